//! `tessera serve --db postgres://…` with tenants made by the CLI on PostgreSQL (part of the
//! `directory_backends` test binary).

use super::common;
use super::common::serve_node::ServeNode;
use super::common::short_call::ShortCall;

const TOKEN: &str = "directory-backends-test-token-01";
const TENANT: &str = "12345678";
/// How long a meeting the CLI adds may take to be answered.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// A `tessera serve` on a PostgreSQL directory; killed when dropped.
struct Gateway(ServeNode);

impl Gateway {
    fn start(url: &str) -> Gateway {
        Gateway(ServeNode::start(url, TOKEN, 46_000, &[]))
    }

    /// One SIPp call (`short_call.xml`, up 1 s) to `service`: whether it was answered and ended
    /// normally.
    fn call(&self, service: &str) -> bool {
        ShortCall::place(self.0.sip, service, 1_000, "pg-caller").succeeded()
    }

    fn log(&self) -> String {
        self.0.log_tail()
    }
}

fn add_meeting_by_cli(url: &str, conference: &str) {
    common::cli(url, &common::open_meeting(TENANT, conference));
}

/// The CLI makes a tenant and a meeting on PostgreSQL, `tessera serve --db postgres://…` answers
/// a call to it from that directory, and a meeting the CLI adds while the gateway runs is
/// answered once the gateway's watcher has seen the change (calls refused until then).
#[test]
fn serve_on_postgres_answers_a_cli_made_meeting_and_sees_cli_changes_while_running() {
    let url = common::postgres::shared().fresh_database();
    common::cli(&url, &["init"]);
    common::cli(
        &url,
        &[
            "tenant",
            "add",
            "--key",
            TENANT,
            "--name",
            "On PostgreSQL",
            "--domain",
            "video.pg.example",
        ],
    );
    common::cli(
        &url,
        &["tenant", "set", "--key", TENANT, "--endpoint-licenses", "5"],
    );
    add_meeting_by_cli(&url, "2000001");
    // The other directory commands work on PostgreSQL too (their refusals are the suite's).
    common::cli(
        &url,
        &[
            "device",
            "trust",
            "--tenant",
            TENANT,
            "--cidr",
            "192.0.2.0/24",
        ],
    );
    common::cli(
        &url,
        &["token", "create", "--tenant", TENANT, "--label", "pg"],
    );
    let gateway = Gateway::start(&url);

    assert!(
        gateway.call(&format!("{TENANT}.2000001")),
        "a call to the CLI-made meeting was not answered\n{}",
        gateway.log()
    );
    assert!(
        !gateway.call(&format!("{TENANT}.2000002")),
        "a meeting that does not exist yet was answered"
    );

    add_meeting_by_cli(&url, "2000002");
    // The watcher polls every 250 ms; each refused attempt takes a SIPp run, so a few tries
    // cover many polls.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut answered = false;
    while !answered && std::time::Instant::now() < deadline {
        answered = gateway.call(&format!("{TENANT}.2000002"));
    }
    assert!(
        answered,
        "the meeting added by the CLI while the gateway ran was never answered\n{}",
        gateway.log()
    );

    // An admin API write goes to PostgreSQL and reloads the calls' copy before it answers; its
    // refusals are the directory's (a duplicate is 409, not a database error).
    let body = r#"{"conference_id": "2000003", "who_can_bypass": "everyone", "anonymous_can_start": true}"#;
    let post = || {
        gateway
            .0
            .send("POST", &format!("/api/v1/tenants/{TENANT}/meetings"), body)
            .0
    };
    assert_eq!(post(), 201, "{}", gateway.log());
    assert!(
        gateway.call(&format!("{TENANT}.2000003")),
        "a meeting the admin API added was not answered at once\n{}",
        gateway.log()
    );
    assert_eq!(post(), 409);
}
