//! Every checkpoint test of the course project's six milestones is in
//! `tests/seed_milestone_{1..6}.rs`: the list below is the course's, milestone by milestone,
//! and a test that goes missing from its file (or is renamed) fails here.

const CHECKPOINTS: [(&str, &[&str]); 6] = [
    (
        include_str!("seed_milestone_1.rs"),
        &[
            "test_event_creation",
            "test_channel_to_stream",
            "test_event_generator",
            "test_stream_consumption",
        ],
    ),
    (
        include_str!("seed_milestone_2.rs"),
        &[
            "test_normalize_value",
            "test_calculate_severity",
            "test_stream_map",
            "test_stream_filter",
            "test_process_stream",
        ],
    ),
    (
        include_str!("seed_milestone_3.rs"),
        &[
            "test_batch_by_count",
            "test_batch_by_timeout",
            "test_event_batch_creation",
            "test_batch_processing",
        ],
    ),
    (
        include_str!("seed_milestone_4.rs"),
        &[
            "test_tumbling_window",
            "test_calculate_window_stats",
            "test_anomaly_detection",
        ],
    ),
    (
        include_str!("seed_milestone_5.rs"),
        &[
            "test_should_sample",
            "test_drop_oldest_strategy",
            "test_sampling_strategy",
            "test_backpressure_stats",
        ],
    ),
    (
        include_str!("seed_milestone_6.rs"),
        &[
            "test_merge_streams",
            "test_fanout",
            "test_multi_source_processing",
        ],
    ),
];

#[test]
fn every_checkpoint_test_of_the_course_is_here() {
    for (milestone, (file, names)) in CHECKPOINTS.iter().enumerate() {
        let tests: Vec<&str> = file
            .lines()
            .filter_map(|l| {
                l.trim_start()
                    .strip_prefix("async fn ")
                    .or_else(|| l.trim_start().strip_prefix("fn "))
            })
            .filter_map(|l| l.split('(').next())
            .collect();
        for name in *names {
            assert!(
                tests.contains(name),
                "milestone {}: checkpoint `{name}` is missing",
                milestone + 1
            );
        }
        assert_eq!(
            tests.len(),
            names.len(),
            "milestone {}: {tests:?}",
            milestone + 1
        );
        // Each is a test, not a helper.
        assert_eq!(
            file.matches("#[tokio::test]").count() + file.matches("#[test]").count(),
            names.len(),
            "milestone {}",
            milestone + 1
        );
    }
}
