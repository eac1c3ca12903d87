//! Unit tests of [`super`] (kept apart to keep `table.rs` short).

use super::*;
use crate::results::{load_results, RunResults};
use crate::ReportError;
use std::path::Path;

fn write_run(root: &Path, name: &str, frontend: &str, reduction: f64, seed: u64, m: f64) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let json = format!(
        r#"{{"frontend": "{frontend}", "reduction": {reduction}, "seed": {seed},
           "fps": {fps}, "metric": "accuracy", "test_metric": {m},
           "frames_in": 100, "frames_out": {out}, "epochs": 3,
           "extra": {{"ignored": [1, 2]}}}}"#,
        fps = 100.0 * (1.0 - reduction),
        out = (100.0 * (1.0 - reduction)).round() as usize,
    );
    std::fs::write(dir.join("results.json"), json).unwrap();
}

/// Baseline 0.900/0.910/0.920 (90.0/91.0/92.0 -> 91.0 ± 1.0).
fn fixture() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for (s, m) in [(1, 0.90), (2, 0.91), (3, 0.92)] {
        write_run(r, &format!("identity/s{s}"), "identity", 0.0, s, m);
    }
    // 25 FPS (reduction 0.75)
    for (s, m) in [(1, 0.80), (2, 0.82), (3, 0.84)] {
        write_run(r, &format!("deep/chs_75/s{s}"), "changehopsize", 0.75, s, m);
    }
    for (s, m) in [(1, 0.85), (2, 0.86)] {
        write_run(r, &format!("avg_75/s{s}"), "avgpool", 0.75, s, m);
    }
    for (s, m) in [(1, 0.88), (2, 0.89), (3, 0.90)] {
        write_run(r, &format!("dr_75/s{s}"), "diffres", 0.75, s, m);
    }
    // 50 FPS (reduction 0.5): DiffRes matches the baseline at display precision.
    for (s, m) in [(1, 0.87), (2, 0.87), (3, 0.87)] {
        write_run(r, &format!("chs_50/s{s}"), "changehopsize", 0.5, s, m);
    }
    for (s, m) in [(1, 0.9089), (2, 0.9109), (3, 0.9099)] {
        write_run(r, &format!("dr_50/s{s}"), "diffres", 0.5, s, m);
    }
    // Unrelated files are ignored.
    std::fs::write(r.join("notes.txt"), "hello").unwrap();
    t
}

#[test]
fn loads_and_aggregates() {
    let t = fixture();
    let runs = load_results(t.path()).unwrap();
    assert_eq!(runs.len(), 3 + 3 + 2 + 3 + 3 + 3);
    assert_eq!(runs.iter().filter(|r| r.frontend == "identity").count(), 3);
    assert_eq!(runs[0].frames_in, Some(100));
    let table = ExperimentTable::from_results(&runs);
    assert_eq!(table.metric, "accuracy");
    assert_eq!(table.columns, vec!["changehopsize", "avgpool", "diffres"]);
    assert_eq!(
        table.column_names(),
        vec!["ChangeHopSize", "AvgPool", "DiffRes"]
    );
    let b = table.baseline.unwrap();
    assert!((b.mean - 0.91).abs() < 1e-12);
    assert!((b.std - 0.01).abs() < 1e-12);
    assert_eq!(b.n, 3);
    assert_eq!(table.baseline_fps, Some(100.0));
    assert_eq!(table.rows.len(), 2);
    assert!((table.rows[0].fps - 25.0).abs() < 1e-12);
    assert!((table.rows[1].fps - 50.0).abs() < 1e-12);
    assert!((table.rows[0].frames_kept_percent() - 25.0).abs() < 1e-12);
    let c = table.cell(0.75, "ChangeHopSize").unwrap();
    assert!((c.mean - 0.82).abs() < 1e-12 && (c.std - 0.02).abs() < 1e-12);
    let a = table.cell(0.75, "avg_pool").unwrap();
    assert!((a.mean - 0.855).abs() < 1e-12);
    assert!((a.std - 0.01 / 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(a.n, 2);
    assert!(table.cell(0.5, "avgpool").is_none());
    let d = table.cell(0.5, "diffres").unwrap();
    assert!((d.mean - 0.9099).abs() < 1e-12);
    assert!((d.std - 0.001).abs() < 1e-12);
    // Below the baseline mean, but equal at the displayed precision: dagger.
    assert!(d.mean < b.mean && table.matches_baseline(d));
}

#[test]
fn markdown_exact() {
    let t = fixture();
    let table = ExperimentTable::from_results(&load_results(t.path()).unwrap());
    let md = table.to_markdown();
    let expected = "\
Baseline (identity, 100 FPS): 91.0 ± 1.0 (accuracy, %, n=3)

| FPS | Frames kept | ChangeHopSize (%) | AvgPool (%) | DiffRes (%) |
|---:|---:|---:|---:|---:|
| 25 | 25% | 82.0 ± 2.0 | 85.5 ± 0.7 (n=2) | **89.0 ± 1.0** |
| 50 | 50% | 87.0 ± 0.0 | – | **91.0 ± 0.1**† |

Mean ± sample std over seeds. Bold: best in the row. †: at least the baseline mean. \
FPS: nominal, frames kept per second at the hop (the measured rates are in the CSV).
";
    assert_eq!(md, expected, "\n{md}");
}

#[test]
fn csv_exact() {
    let t = fixture();
    let table = ExperimentTable::from_results(&load_results(t.path()).unwrap());
    let csv = table.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "reduction,fps_nominal,fps,frontend,mean,std,n");
    assert!(lines[1].starts_with("0,100,100,identity,0.91"));
    assert!(lines[1].ends_with(",3"));
    assert_eq!(lines.len(), 1 + 1 + 3 + 2);
    assert!(lines[2].starts_with("0.75,25,25,changehopsize,0.82"));
    assert!(lines[3].starts_with("0.75,25,25,avgpool,0.855"));
    assert!(lines[3].ends_with(",2"));
    assert!(lines[6].starts_with("0.5,50,50,diffres,0.9099"));
    // Parseable numbers.
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 7);
        for x in [f[0], f[1], f[2], f[4], f[5]] {
            x.parse::<f64>().unwrap();
        }
        f[6].parse::<usize>().unwrap();
    }
}

#[test]
fn malformed_file_is_an_error_naming_it() {
    let t = fixture();
    let bad = t.path().join("broken");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("results.json"), "{\"frontend\": \"diffres\", ").unwrap();
    let err = load_results(t.path()).unwrap_err();
    assert!(matches!(err, ReportError::Json { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("broken") && msg.contains("results.json"),
        "{msg}"
    );
    // A missing field is an error too.
    std::fs::write(bad.join("results.json"), r#"{"frontend": "diffres"}"#).unwrap();
    assert!(load_results(t.path()).is_err());
    // A missing folder is an I/O error.
    assert!(matches!(
        load_results(&t.path().join("nope")),
        Err(ReportError::Io { .. })
    ));
}

#[test]
fn single_seed_has_zero_std_and_no_n_marks() {
    let run = |f: &str, r: f64, m: f64| RunResults {
        frontend: f.into(),
        reduction: r,
        seed: 0,
        fps: 100.0 * (1.0 - r),
        metric: "mAP".into(),
        test_metric: Some(m),
        frames_in: None,
        frames_out: None,
        hop_ms: None,
        nominal_fps: None,
        ..Default::default()
    };
    let runs = vec![
        run("diffres", 0.25, 0.44),
        run("avgpool", 0.25, 0.44),
        run("convavgpool", 0.25, 0.43),
        run("avgmaxpool", 0.25, f64::NAN),
        run("mystery", 0.25, 0.1),
    ];
    let t = ExperimentTable::from_results(&runs);
    assert_eq!(t.baseline, None);
    assert_eq!(t.metric, "mAP");
    assert_eq!(
        t.columns,
        vec!["avgpool", "convavgpool", "mystery", "diffres"]
    );
    let md = t.to_markdown();
    assert!(md.contains("Baseline (identity): no run (mAP, %)"));
    // Tied best both bold, no dagger without a baseline, no n marks.
    assert!(md.contains("| 75 | 75% | **44.0 ± 0.0** | 43.0 ± 0.0 | 10.0 ± 0.0 | **44.0 ± 0.0** |"));
    assert!(!md.contains("n="));
    assert!(!md.lines().any(|l| l.starts_with('|') && l.contains('†')));
    // Empty input.
    let e = ExperimentTable::from_results(&[]);
    assert!(e.rows.is_empty());
    assert_eq!(
        e.to_csv(),
        "reduction,fps_nominal,fps,frontend,mean,std,n\n"
    );
    assert!(e.to_markdown().contains("no run"));
}

/// A `results.json` as the trainer writes it for a 1-s clip at a 10 ms hop (101 input frames):
/// measured fps = frames_out / 101 * 100. `hop` adds the newer `hop_ms` field.
fn write_measured_run(root: &Path, name: &str, frontend: &str, reduction: f64, hop: bool) {
    // The front ends keep floor(frames * (1 - reduction)) frames.
    let frames_out = (101.0 * (1.0 - reduction) + 1e-9).floor() as usize;
    let fps = frames_out as f64 / 101.0 * 100.0;
    let hop = if hop { r#", "hop_ms": 10.0"# } else { "" };
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let json = format!(
        r#"{{"frontend": "{frontend}", "reduction": {reduction}, "seed": 1, "fps": {fps},
           "metric": "accuracy", "test_metric": 0.8, "frames_in": 101,
           "frames_out": {frames_out}{hop}}}"#
    );
    std::fs::write(dir.join("results.json"), json).unwrap();
}

#[test]
fn rows_show_nominal_fps_and_the_csv_keeps_the_measured_rate() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write_measured_run(r, "base", "identity", 0.0, true);
    write_measured_run(r, "dr75", "diffres", 0.75, true);
    // An older results.json without hop_ms: the frame counts give the same nominal rate.
    write_measured_run(r, "avg50", "avgpool", 0.5, false);
    let runs = load_results(r).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.hop_ms).collect::<Vec<_>>(),
        [None, Some(10.0), Some(10.0)]
    );
    let table = ExperimentTable::from_results(&runs);
    // 25 of 101 frames measure 24.75 FPS (24.7525); 50 of 101 measure 49.5 (49.505).
    assert_eq!(table.rows[0].nominal_fps, 25.0);
    assert!((table.rows[0].fps - 24.752475247524753).abs() < 1e-12);
    assert_eq!(table.rows[1].nominal_fps, 50.0);
    assert!((table.rows[1].fps - 49.504950495049506).abs() < 1e-12);
    assert_eq!(table.baseline_nominal_fps, Some(100.0));
    let md = table.to_markdown();
    assert!(
        md.starts_with("Baseline (identity, 100 FPS): 80.0 ± 0.0"),
        "{md}"
    );
    assert!(
        md.contains("\n| 25 | 25% | – | **80.0 ± 0.0**† |\n"),
        "{md}"
    );
    assert!(
        md.contains("\n| 50 | 50% | **80.0 ± 0.0**† | – |\n"),
        "{md}"
    );
    assert!(!md.contains("24.75") && !md.contains("49.5"), "{md}");
    let csv = table.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "reduction,fps_nominal,fps,frontend,mean,std,n",
            "0,100,100,identity,0.8,0,1",
            "0.75,25,24.752475247524753,diffres,0.8,0,1",
            "0.5,50,49.504950495049506,avgpool,0.8,0,1",
        ]
    );
}

#[test]
fn old_results_without_hop_or_frames_fall_back_to_the_rounded_measured_rate() {
    let json = r#"{"frontend": "avgpool", "reduction": 0.75, "seed": 0,
                   "fps": 24.752475247524753, "metric": "accuracy", "test_metric": 0.5}"#;
    let run: RunResults = serde_json::from_str(json).unwrap();
    assert_eq!(
        (run.hop_ms, run.nominal_fps, run.frames_in),
        (None, None, None)
    );
    let table = ExperimentTable::from_results(&[run]);
    assert_eq!(table.rows[0].nominal_fps, 25.0);
    assert!(table.to_markdown().contains("| 25 | 25% |"));
    assert!(table
        .to_csv()
        .ends_with("0.75,25,24.752475247524753,avgpool,0.5,0,1\n"));
}
