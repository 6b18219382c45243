//! The event-processing domain: simulated sensors, normalization and severity, batching,
//! windowed statistics and anomaly alerts, backpressure, and the merge-process-fan-out
//! pipeline, all built on weir's own operators.

mod backpressure;
mod batch;
mod model;
mod pipeline;
mod process;
mod stats;

pub use backpressure::{
    BackpressureConfig, BackpressureStrategy, adaptive_sample_rate, apply_backpressure,
    monitor_backpressure, should_sample,
};
pub use batch::{EventBatch, batch_events, process_batch, write_batch_to_storage};
pub use model::{
    Event, EventStream, EventType, consume_stream, create_event_stream, generate_events, now_ms,
};
pub use pipeline::{
    ProcessingPipeline, SourceType, StreamSource, create_fanout, merge_and_process, merge_sources,
    merge_streams, run_pipeline,
};
pub use process::{
    ProcessedEvent, Severity, calculate_severity, filter_high_severity, normalize_value,
    process_event, process_stream,
};
pub use stats::{
    Alert, SeverityAcc, StatsBySeverity, StatsBySource, WindowedStats, calculate_window_stats,
    create_tumbling_window, detect_anomalies,
};
