//! Transport security on a real apiserver: TLS is verified by default, a connection can name
//! the CA that signed its platform's certificate (`tls.caBundle`), and plain http:// is
//! refused at admission unless it is loopback or `allowInsecureHttp: true`.
//!
//! The sandboxes serve HTTPS here, as `converge sandbox --tls-cert --tls-key` does, with a
//! certificate for localhost and 127.0.0.1 issued by a CA made for the test with rcgen.

mod common;

use std::time::Duration;

use common::converge::*;
use converge_api::connection::PlatformConnection;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

struct TestCa {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn test_ca() -> TestCa {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Converge test CA");
    let ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
    TestCa {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// The sandboxes over HTTPS, with the certificate and key read from PEM files as
/// `converge sandbox --tls-cert --tls-key` reads them.
async fn https_sandboxes(ca: &TestCa) -> converge_sandbox::all::Sandboxes {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &ca.cert_pem).unwrap();
    std::fs::write(&key, &ca.key_pem).unwrap();
    let options = converge_sandbox::all::Options {
        tls: Some(converge_sandbox::tls::load(&cert, &key).unwrap()),
        ..converge_sandbox::all::Options::ephemeral()
    };
    converge_sandbox::all::Sandboxes::start(options)
        .await
        .unwrap()
}

fn conn(name: &str, endpoint: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = connection_spec("opschain", endpoint, "opschain-credentials");
    merge(&mut spec, extra);
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
           "metadata": {"name": name}, "spec": spec})
}

fn ready_condition(c: &PlatformConnection) -> Option<(String, String, String)> {
    c.status
        .as_ref()
        .and_then(|s| s.common.condition("Ready"))
        .map(|r| (r.status.clone(), r.reason.clone(), r.message.clone()))
}

#[tokio::test]
async fn tls_is_verified_by_default_and_a_named_ca_bundle_makes_it_trusted() {
    let client = client().await;
    let ns = "transport-tls";
    namespace(&client, ns).await;
    put_secret(&client, ns, "opschain-credentials", credentials("opschain")).await;
    let ca = test_ca();
    let sandboxes = https_sandboxes(&ca).await;
    let endpoint = sandboxes.opschain.url();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let conns = Api::<PlatformConnection>::namespaced(client.clone(), ns);

    // No CA bundle: the system roots do not know the test CA, so the handshake fails and the
    // connection says why, pointing at tls.caBundle.
    apply(&client, ns, conn("untrusted", &endpoint, json!({}))).await;
    let c = wait_until(
        &conns,
        "untrusted",
        "refused the certificate",
        Duration::from_secs(30),
        |c| ready_condition(c).is_some_and(|(status, _, _)| status == "False"),
    )
    .await;
    let (_, reason, message) = ready_condition(&c).unwrap();
    assert!(
        message.contains("certificate") && message.contains("tls.caBundle"),
        "{reason}: {message}"
    );
    eprintln!("without caBundle: {reason}: {message}");

    // The CA bundle from a ConfigMap: trusted, Ready.
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "test-ca"}, "data": {"ca.crt": ca.ca_pem}
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    apply(
        &client,
        ns,
        conn(
            "trusted",
            &endpoint,
            json!({"tls": {"caBundle": {"name": "test-ca", "key": "ca.crt"}}}),
        ),
    )
    .await;
    let c = wait_until(&conns, "trusted", "Ready", Duration::from_secs(30), |c| {
        ready_condition(c).is_some_and(|(status, _, _)| status == "True")
    })
    .await;
    let (_, _, message) = ready_condition(&c).unwrap();
    assert!(message.contains(&endpoint), "{message}");

    // Objects work through the TLS connection.
    apply(
        &client,
        ns,
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
               "metadata": {"name": "over-tls"},
               "spec": {"connectionRef": {"name": "trusted"},
                        "opschain": {"code": "over_tls", "name": "Over TLS"}}}),
    )
    .await;
    wait_ready(
        &Api::<converge_api::project::Project>::namespaced(client.clone(), ns),
        "over-tls",
    )
    .await;

    // A CA bundle that is not the issuer: still refused.
    let other = test_ca();
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "other-ca"}, "data": {"ca.crt": other.ca_pem}
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    apply(
        &client,
        ns,
        conn(
            "wrong-ca",
            &endpoint,
            json!({"tls": {"caBundle": {"name": "other-ca", "key": "ca.crt"}}}),
        ),
    )
    .await;
    let c = wait_until(
        &conns,
        "wrong-ca",
        "refused",
        Duration::from_secs(30),
        |c| ready_condition(c).is_some_and(|(status, _, _)| status == "False"),
    )
    .await;
    let (_, _, message) = ready_condition(&c).unwrap();
    assert!(message.contains("certificate"), "{message}");
}

#[tokio::test]
async fn plain_http_is_refused_at_admission_unless_loopback_or_explicitly_insecure() {
    let client = client().await;
    let ns = "transport-http";
    namespace(&client, ns).await;
    let conns = Api::<PlatformConnection>::namespaced(client.clone(), ns);
    let create = |name: &str, endpoint: &str, extra: serde_json::Value| {
        let c: PlatformConnection = serde_json::from_value(conn(name, endpoint, extra)).unwrap();
        let conns = conns.clone();
        async move { conns.create(&PostParams::default(), &c).await }
    };

    let refused = create("remote", "http://ops.example.test", json!({}))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("endpoint must use https://; plain http:// is only accepted for loopback"),
        "{refused}"
    );
    let refused = create(
        "remote-false",
        "http://10.1.2.3:8080",
        json!({"allowInsecureHttp": false}),
    )
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("allowInsecureHttp"),
        "{refused}"
    );

    // Accepted: loopback, the explicit insecure flag, and https.
    for (name, endpoint, extra) in [
        ("loopback", "http://127.0.0.1:9/x", json!({})),
        ("localhost", "http://localhost:9", json!({})),
        (
            "insecure",
            "http://ops.example.test",
            json!({"allowInsecureHttp": true}),
        ),
        ("secure", "https://ops.example.test", json!({})),
    ] {
        create(name, endpoint, extra)
            .await
            .unwrap_or_else(|e| panic!("{name} ({endpoint}) refused: {e}"));
    }
}
