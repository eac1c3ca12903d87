//! Perceptual colormaps for heatmaps (matplotlib's viridis and magma, ten anchors each, and
//! its sequential Blues, nine).

use plotters::style::RGBColor;

/// A perceptual colormap for heatmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// matplotlib's viridis (dark blue -> green -> yellow).
    Viridis,
    /// matplotlib's magma (black -> purple -> orange -> light yellow).
    Magma,
    /// matplotlib's Blues (near white -> dark blue), for matrices whose zero is "nothing":
    /// confusion matrices and warp matrices.
    Blues,
}

const BLUES: [u32; 9] = [
    0xF7FBFF, 0xDEEBF7, 0xC6DBEF, 0x9ECAE1, 0x6BAED6, 0x4292C6, 0x2171B5, 0x08519C, 0x08306B,
];
const VIRIDIS: [u32; 10] = [
    0x440154, 0x482878, 0x3E4A89, 0x31688E, 0x26828E, 0x1F9E89, 0x35B779, 0x6DCD59, 0xB4DE2C,
    0xFDE725,
];
const MAGMA: [u32; 10] = [
    0x000004, 0x180F3E, 0x451077, 0x721F81, 0x9F2F7F, 0xCD4071, 0xF1605D, 0xFD9567, 0xFEC98D,
    0xFCFDBF,
];

/// Colour of `t` in `[0, 1]` (clamped; NaN maps to 0) by linear interpolation between
/// the anchors of the colormap.
pub fn colormap(map: Colormap, t: f64) -> (u8, u8, u8) {
    let anchors: &[u32] = match map {
        Colormap::Viridis => &VIRIDIS,
        Colormap::Magma => &MAGMA,
        Colormap::Blues => &BLUES,
    };
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (anchors.len() - 1) as f64;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f64;
    let ch = |c: u32, shift: u32| ((c >> shift) & 0xFF) as f64;
    let mix = |shift| {
        let a = ch(anchors[i], shift);
        let b = ch(anchors[i + 1], shift);
        (a + (b - a) * f).round().clamp(0.0, 255.0) as u8
    };
    (mix(16), mix(8), mix(0))
}

/// [`colormap`] as a plotters colour.
pub(super) fn cmap_color(map: Colormap, t: f64) -> RGBColor {
    let (r, g, b) = colormap(map, t);
    RGBColor(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_endpoints() {
        assert_eq!(colormap(Colormap::Viridis, 0.0), (0x44, 0x01, 0x54));
        assert_eq!(colormap(Colormap::Viridis, 1.0), (0xFD, 0xE7, 0x25));
        assert_eq!(colormap(Colormap::Magma, -3.0), (0x00, 0x00, 0x04));
        assert_eq!(colormap(Colormap::Magma, f64::NAN), (0x00, 0x00, 0x04));
        assert_eq!(colormap(Colormap::Magma, 7.0), (0xFC, 0xFD, 0xBF));
        assert_eq!(colormap(Colormap::Blues, 0.0), (0xF7, 0xFB, 0xFF));
        assert_eq!(colormap(Colormap::Blues, 1.0), (0x08, 0x30, 0x6B));
    }
}
