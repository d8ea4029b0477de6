//! The reconciler against a firewall that fails: berth's library with the `Faulty`
//! double over the host's real iptables, and real containers. A transaction that fails
//! after another one landed must leave the kernel as it was (all or nothing across
//! families), and the same reconcile without the fault must publish (the positive
//! control: the fault, not something else, made the difference).

mod common;

use berth::engine::Engine;
use berth::firewall::backend::{Backend, Faulty, Iptables};
use berth::model::Family;
use berth::reconcile::{Options, Reconciler, Scope};
use berth::settings::Settings;

use common::*;

/// Every ip(6)tables rule line of one container.
fn rules(id12: &str, family: Family) -> Vec<String> {
    let tool = match family {
        Family::V4 => "iptables-save",
        Family::V6 => "ip6tables-save",
    };
    sh_ok(tool)
        .lines()
        .filter(|l| l.contains(&format!("berth:{id12}")))
        .map(str::to_string)
        .collect()
}

fn settings() -> Settings {
    Settings {
        endpoint: local_endpoint(),
        ..Settings::default()
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_failure_after_another_family_landed_leaves_nothing() {
    tidy_once();
    // a container with both families, created by berth (so its label is sealed) and
    // then stripped of its rules: the reconciles below put them back, or fail to
    let net = unique("faultnet");
    sh(&format!("docker network rm {net}"));
    sh_ok(&format!(
        "docker network create --ipv6 --subnet fd00:b1:fa::/64 {net}"
    ));
    struct Net(String);
    impl Drop for Net {
        fn drop(&mut self) {
            sh(&format!("docker network rm {}", self.0));
        }
    }
    let _net = Net(net.clone());
    let web = run_detached(
        "fault",
        &[
            "--network",
            &net,
            "-p",
            "18850:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let id = web.id();
    let id12 = web.id12();
    assert!(!rules(&id12, Family::V4).is_empty() && !rules(&id12, Family::V6).is_empty());
    sh_ok(&format!(
        "iptables -t nat -F BERTH-{id12} && ip6tables -t nat -F BERTH-{id12}"
    ));
    let before4 = sh_ok("iptables-save | grep -v '^#'");
    let before6 = sh_ok("ip6tables-save | grep -v '^#'");

    let settings = settings();
    berth::engine::block_on(async {
        let engine = Engine::connect(&settings.endpoint).await.unwrap();
        let real = berth::firewall::iptables(settings.iptables).unwrap();
        // every IPv6 transaction fails: the IPv4 one lands first each time, and must be
        // taken back
        let faulty = Faulty::new(
            Iptables::new(real.variant()),
            Box::new(|_, family, _| family == Family::V6),
        );
        let rec = Reconciler::new(&engine, &faulty, &settings);
        let err = rec
            .reconcile(&Scope::Containers(vec![id.clone()]), &Options::default())
            .await
            .expect_err("an injected failure must fail the reconcile");
        assert!(err.to_string().contains("injected failure"), "{err}");
        // the fault really happened, after an IPv4 transaction
        let calls = faulty.calls.borrow();
        assert!(
            calls.iter().any(|(f, _)| *f == Family::V6),
            "no IPv6 transaction was tried"
        );
        assert!(
            calls.iter().any(|(f, _)| *f == Family::V4),
            "no IPv4 transaction landed first"
        );
    });
    assert_eq!(
        sh_ok("iptables-save | grep -v '^#'"),
        before4,
        "IPv4 rules were left half done"
    );
    assert_eq!(
        sh_ok("ip6tables-save | grep -v '^#'"),
        before6,
        "IPv6 rules changed"
    );
    // positive control: the same reconcile without the fault publishes both families
    berth::engine::block_on(async {
        let engine = Engine::connect(&settings.endpoint).await.unwrap();
        let real = berth::firewall::iptables(settings.iptables).unwrap();
        let faulty = Faulty::new(Iptables::new(real.variant()), Box::new(|_, _, _| false));
        let rec = Reconciler::new(&engine, &faulty, &settings);
        rec.reconcile(&Scope::Containers(vec![id.clone()]), &Options::default())
            .await
            .unwrap();
    });
    assert!(
        rules(&id12, Family::V4)
            .iter()
            .any(|r| r.contains("-j DNAT"))
    );
    assert!(
        rules(&id12, Family::V6)
            .iter()
            .any(|r| r.contains("-j DNAT"))
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18850/").is_some()));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_failing_withdraw_is_retried_from_fresh_tables() {
    tidy_once();
    let web = run_detached(
        "retry",
        &["-p", "18851:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let id = web.id();
    let id12 = web.id12();
    let settings = settings();
    berth::engine::block_on(async {
        let engine = Engine::connect(&settings.endpoint).await.unwrap();
        let real = berth::firewall::iptables(settings.iptables).unwrap();
        // the first transaction fails (as if someone changed the tables meanwhile); the
        // reconciler reads again and the second one lands
        let faulty = Faulty::nth(Iptables::new(real.variant()), 1);
        let rec = Reconciler::new(&engine, &faulty, &settings);
        let opts = Options {
            withdraw: vec![id.clone()],
            ..Options::default()
        };
        rec.reconcile(&Scope::Containers(vec![id.clone()]), &opts)
            .await
            .unwrap();
        assert!(faulty.restores() >= 2, "no retry after the failure");
    });
    assert!(
        rules(&id12, Family::V4).is_empty(),
        "withdrawn rules stayed"
    );
    assert_eq!(curl("http://127.0.0.1:18851/"), None);
}
