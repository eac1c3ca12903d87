//! Write the synthetic dataset and print its summary.
//!
//! `cargo run --release -p diffres-data --example synth_dataset -- OUT_DIR [CLIPS_PER_CLASS] [SEED]`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: synth_dataset OUT_DIR [CLIPS_PER_CLASS] [SEED]")?,
    );
    let clips_per_class = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let seed = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let cfg = diffres_data::synth::SynthConfig {
        clips_per_class,
        seed,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let manifest = diffres_data::synth::write_dataset(&dir, &cfg)?;
    eprintln!("wrote {} in {:.2?}", manifest.display(), t.elapsed());
    let ds = diffres_data::load_dataset(&manifest, &diffres_data::LoadOptions::default())?;
    print!("{}", ds.summary());
    Ok(())
}
