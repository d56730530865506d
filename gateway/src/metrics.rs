//! Prometheus metrics (`GET /metrics`, text format). Names follow
//! `tessera_<subsystem>_<name>` with `_total` / `_seconds` suffixes. Labels stop at tenant (and
//! protocol, route, reason, kind, direction, media): nothing here may identify a person, so
//! presence-style activity cannot leak (`docs/domain.md`, Privacy).
//!
//! Owns the registry and the metric handles; the call core and media tasks update them. It must
//! not hold call state.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the gateway exports. Cheap to clone (handles are reference-counted).
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls up now, by tenant and protocol.
    pub calls_active: IntGaugeVec,
    /// Calls accepted, by tenant, protocol and route.
    pub calls_total: IntCounterVec,
    /// Calls refused, by tenant (or `-` before one is known) and reason.
    pub calls_refused_total: IntCounterVec,
    /// INVITE to 200 OK.
    pub call_setup_seconds: Histogram,
    /// Callers waiting in lobbies, by tenant.
    pub lobby_waiting: IntGaugeVec,
    /// How long callers waited before leaving the lobby (admitted, denied, timed out or hung up).
    pub lobby_wait_seconds: HistogramVec,
    /// Licences held, by tenant and kind (`endpoint`, `cascade`).
    pub licenses_in_use: IntGaugeVec,
    /// Licences bought, by tenant and kind.
    pub licenses_total: IntGaugeVec,
    /// Cascade links (conference bridges joined to a meeting) up now, by tenant.
    pub cascades_active: IntGaugeVec,
    /// Video streams a Tessera link carries now, by link (its participant, `p7`) and direction
    /// (`out`: forwarded to the far node, `in`: the far node's shown here).
    pub cascade_link_streams: IntGaugeVec,
    /// Video a Tessera link carries, in bit/s of H.264 payload averaged over about a second, by
    /// link and direction as `cascade_link_streams`.
    pub cascade_link_bitrate_bps: IntGaugeVec,
    /// RTP packets, by direction (`rx`, `tx`) and media (`audio`, `video`).
    pub rtp_packets_total: IntCounterVec,
    /// RTP packets lost (sequence gaps seen on receive).
    pub rtp_lost_total: IntCounter,
    /// SRTP/SRTCP datagrams dropped because they did not authenticate (or replayed one).
    pub srtp_rejected_total: IntCounter,
    /// Video frames encoded.
    pub video_frames_encoded_total: IntCounter,
    /// Time spent encoding one video frame.
    pub encoder_seconds: Histogram,
    /// Layout encoders alive across every meeting (each is shared by every viewer of its
    /// picture, so this stays small however many viewers a meeting has).
    pub layout_encoders: IntGauge,
    /// Keyframes requested (PLI/FIR sent or received).
    pub keyframes_requested_total: IntCounterVec,
    /// CPU cores the video encoders used over the last second (drives automatic capacity).
    pub encoder_load_cores: prometheus::Gauge,
    // Bounded media queues and the media worker pool (issue 11).
    /// Media dropped on the way because a queue was full, by what (`audio`, `video`: a call's
    /// feed; `engine_audio`, `engine_picture`, `engine_native`: a meeting engine's inputs;
    /// `decode`: access units a call's decoder queue shed, whole pictures up to the next keyframe).
    pub media_dropped_total: IntCounterVec,
    /// Threads of the media worker pool that runs every meeting engine and the slates (fixed
    /// at start: it does not grow with meetings or calls).
    pub media_workers: IntGauge,
    /// Bytes of picture buffers kept idle for reuse (`mixer::frame::pool`; bounded).
    pub picture_pool_idle_bytes: IntGauge,
    // Limits that hold under attack (issue 15).
    /// SIP sources banned, by reason (`flood`, `bad-messages`).
    pub sip_banned_total: IntCounterVec,
    /// SIP sources banned now.
    pub sip_banned_sources: IntGauge,
    /// SIP packets from banned sources, dropped unread.
    pub sip_dropped_total: IntCounter,
    /// SIP requests refused (503) by a per-source cap, by limit (`transactions`, `dialogs`).
    pub sip_source_limited_total: IntCounterVec,
    /// Admin API requests refused (429) because their source failed the token too often.
    pub admin_auth_throttled_total: IntCounter,
    // WebRTC (issue 12).
    /// Browser peer connections alive.
    pub webrtc_peers: IntGauge,
    /// Streams forwarded to browsers now (receive slots with a stream), across every meeting.
    pub webrtc_forwarded_streams: IntGauge,
    /// Forwarded streams that changed layer or source.
    pub webrtc_layer_switches_total: IntCounter,
    /// Browser connections that failed, by stage (`ice`, `dtls`).
    pub webrtc_failures_total: IntCounterVec,
    /// Pictures decoded from browsers' simulcast for VTC layouts, by layer index (0 smallest).
    pub webrtc_ingest_decoded_total: IntCounterVec,
    /// 1 while registered with the H.323 gatekeeper (`--h323-gatekeeper`), else 0.
    pub h323_gatekeeper_registered: IntGauge,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Registration only fails for duplicate names, which the list below does not have.
    if let Err(e) = registry.register(Box::new(metric.clone())) {
        tracing::error!(error = %e, "metric not registered");
    }
    metric
}

impl Metrics {
    /// A fresh registry with every metric (and the process collector on Linux).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
                Ok(register(
                    &registry,
                    IntGaugeVec::new(Opts::new(name, help), labels)?,
                ))
            };
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                Ok(register(
                    &registry,
                    IntCounterVec::new(Opts::new(name, help), labels)?,
                ))
            };
        let setup_buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let metrics = Metrics {
            calls_active: gauge(
                "tessera_calls_active",
                "Calls up now.",
                &["tenant", "protocol"],
            )?,
            calls_total: counter(
                "tessera_calls_total",
                "Calls accepted.",
                &["tenant", "protocol", "route"],
            )?,
            calls_refused_total: counter(
                "tessera_calls_refused_total",
                "Calls refused.",
                &["tenant", "reason"],
            )?,
            call_setup_seconds: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "tessera_call_setup_seconds",
                        "INVITE received to 200 OK sent.",
                    )
                    .buckets(setup_buckets),
                )?,
            ),
            lobby_waiting: gauge(
                "tessera_lobby_waiting",
                "Callers waiting in lobbies.",
                &["tenant"],
            )?,
            lobby_wait_seconds: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("tessera_lobby_wait_seconds", "Time spent in the lobby.")
                        .buckets(vec![
                            1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                        ]),
                    &["tenant"],
                )?,
            ),
            licenses_in_use: gauge(
                "tessera_licenses_in_use",
                "Licences held by calls.",
                &["tenant", "kind"],
            )?,
            licenses_total: gauge(
                "tessera_licenses_total",
                "Licences bought.",
                &["tenant", "kind"],
            )?,
            cascades_active: gauge(
                "tessera_cascades_active",
                "Cascade links (conference bridges in a meeting) up now.",
                &["tenant"],
            )?,
            cascade_link_streams: gauge(
                "tessera_cascade_link_streams",
                "Video streams a Tessera cascade link carries, stream by stream.",
                &["link", "direction"],
            )?,
            cascade_link_bitrate_bps: gauge(
                "tessera_cascade_link_bitrate_bps",
                "Video bit rate (H.264 payload) a Tessera cascade link carries, over about a second.",
                &["link", "direction"],
            )?,
            rtp_packets_total: counter(
                "tessera_rtp_packets_total",
                "RTP packets.",
                &["direction", "media"],
            )?,
            rtp_lost_total: register(
                &registry,
                IntCounter::new("tessera_rtp_lost_total", "RTP packets lost on receive.")?,
            ),
            srtp_rejected_total: register(
                &registry,
                IntCounter::new(
                    "tessera_srtp_rejected_total",
                    "SRTP/SRTCP datagrams dropped: not authentic or replayed.",
                )?,
            ),
            video_frames_encoded_total: register(
                &registry,
                IntCounter::new(
                    "tessera_video_frames_encoded_total",
                    "Video frames encoded.",
                )?,
            ),
            encoder_seconds: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "tessera_encoder_seconds",
                        "Time to encode one video frame.",
                    )
                    .buckets(vec![0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]),
                )?,
            ),
            layout_encoders: register(
                &registry,
                IntGauge::new(
                    "tessera_layout_encoders",
                    "Layout encoders alive (one per distinct picture, shared by its viewers).",
                )?,
            ),
            keyframes_requested_total: counter(
                "tessera_keyframes_requested_total",
                "Keyframes requested (PLI/FIR), by who asked.",
                &["by"],
            )?,
            encoder_load_cores: register(
                &registry,
                prometheus::Gauge::new(
                    "tessera_encoder_load_cores",
                    "CPU cores the video encoders used over the last second.",
                )?,
            ),
            media_dropped_total: counter(
                "tessera_media_dropped_total",
                "Media dropped: a queue was full (video to the next keyframe), or packets came from a foreign source (`foreign`: RTP Bleed attempts).",
                &["what"],
            )?,
            media_workers: register(
                &registry,
                IntGauge::new(
                    "tessera_media_workers",
                    "Threads of the media worker pool (meeting engines and slates).",
                )?,
            ),
            picture_pool_idle_bytes: register(
                &registry,
                IntGauge::new(
                    "tessera_picture_pool_idle_bytes",
                    "Bytes of picture buffers kept idle for the next picture of their size (bounded).",
                )?,
            ),
            sip_banned_total: counter(
                "tessera_sip_banned_total",
                "SIP sources banned for a while (flood: too many messages; bad-messages: too many that did not parse).",
                &["reason"],
            )?,
            sip_banned_sources: register(
                &registry,
                IntGauge::new("tessera_sip_banned_sources", "SIP sources banned now.")?,
            ),
            sip_dropped_total: register(
                &registry,
                IntCounter::new(
                    "tessera_sip_dropped_total",
                    "SIP packets from banned sources, dropped unread.",
                )?,
            ),
            sip_source_limited_total: counter(
                "tessera_sip_source_limited_total",
                "SIP requests refused (503) because their source holds too many transactions or dialogs.",
                &["limit"],
            )?,
            admin_auth_throttled_total: register(
                &registry,
                IntCounter::new(
                    "tessera_admin_auth_throttled_total",
                    "Admin API requests refused (429) because their source failed the token too often.",
                )?,
            ),
            h323_gatekeeper_registered: register(
                &registry,
                IntGauge::new(
                    "tessera_h323_gatekeeper_registered",
                    "1 while registered with the H.323 gatekeeper, else 0.",
                )?,
            ),
            webrtc_peers: register(
                &registry,
                IntGauge::new("tessera_webrtc_peers", "Browser peer connections alive.")?,
            ),
            webrtc_forwarded_streams: register(
                &registry,
                IntGauge::new(
                    "tessera_webrtc_forwarded_streams",
                    "Streams forwarded to browsers now (no transcoding).",
                )?,
            ),
            webrtc_layer_switches_total: register(
                &registry,
                IntCounter::new(
                    "tessera_webrtc_layer_switches_total",
                    "Forwarded streams that changed simulcast layer or source.",
                )?,
            ),
            webrtc_failures_total: counter(
                "tessera_webrtc_failures_total",
                "Browser connections that failed, by stage (ice, dtls).",
                &["stage"],
            )?,
            webrtc_ingest_decoded_total: counter(
                "tessera_webrtc_ingest_decoded_total",
                "Pictures decoded from browsers' simulcast for VTC layouts, by layer (0 smallest).",
                &["layer"],
            )?,
            registry,
        };
        // The decode drops show from the start (at 0), so a dashboard or alert can rely on them.
        for what in ["decode", "foreign"] {
            metrics
                .media_dropped_total
                .with_label_values(&[what])
                .inc_by(0);
        }
        // Likewise the limits, so an alert on their rate has a series from the start.
        for reason in ["flood", "bad-messages"] {
            metrics
                .sip_banned_total
                .with_label_values(&[reason])
                .inc_by(0);
        }
        for limit in ["transactions", "dialogs"] {
            metrics
                .sip_source_limited_total
                .with_label_values(&[limit])
                .inc_by(0);
        }
        #[cfg(target_os = "linux")]
        if let Err(e) = metrics.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::error!(error = %e, "process metrics not registered");
        }
        Ok(metrics)
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exported_with_its_labels() {
        let m = Metrics::new().unwrap();
        m.calls_active
            .with_label_values(&["12345678", "sip"])
            .set(2);
        m.calls_total
            .with_label_values(&["12345678", "sip", "direct"])
            .inc();
        m.calls_refused_total
            .with_label_values(&["12345678", "licence"])
            .inc();
        m.licenses_total
            .with_label_values(&["12345678", "endpoint"])
            .set(10);
        m.rtp_packets_total
            .with_label_values(&["tx", "audio"])
            .inc_by(50);
        m.call_setup_seconds.observe(0.01);
        m.media_dropped_total
            .with_label_values(&["video"])
            .inc_by(3);
        m.media_workers.set(2);
        m.picture_pool_idle_bytes.set(1 << 20);
        let text = m.render();
        for line in [
            "tessera_calls_active{protocol=\"sip\",tenant=\"12345678\"} 2",
            "tessera_calls_total{protocol=\"sip\",route=\"direct\",tenant=\"12345678\"} 1",
            "tessera_calls_refused_total{reason=\"licence\",tenant=\"12345678\"} 1",
            "tessera_licenses_total{kind=\"endpoint\",tenant=\"12345678\"} 10",
            "tessera_rtp_packets_total{direction=\"tx\",media=\"audio\"} 50",
            "tessera_call_setup_seconds_count 1",
            "tessera_rtp_lost_total 0",
            "tessera_srtp_rejected_total 0",
            "tessera_video_frames_encoded_total 0",
            "tessera_layout_encoders 0",
            "tessera_media_dropped_total{what=\"video\"} 3",
            "tessera_media_dropped_total{what=\"decode\"} 0",
            "tessera_media_workers 2",
            "tessera_picture_pool_idle_bytes 1048576",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"));
    }
}
