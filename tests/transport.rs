//! Transport security on a real apiserver: TLS is verified by default, a connection can name
//! the CA that signed its platform's certificate (`tls.caBundle`), and plain http:// is
//! refused at admission unless it is loopback or `allowInsecureHttp: true`.
//!
//! The OpsChain sandbox is put behind a real TLS listener (rustls, a certificate for
//! "localhost" issued by a CA made for the test with rcgen) that forwards the decrypted
//! bytes to it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::converge::*;
use converge::connection::crd::PlatformConnection;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio_rustls::rustls;

struct TestCa {
    ca_pem: String,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
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
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    TestCa {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

/// Serves TLS on a free loopback port and forwards each connection to `backend`; returns the
/// port. Lives as long as the test's runtime.
async fn tls_front(ca: &TestCa, backend: String) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ca.cert.clone()], ca.key.clone_key())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to forward.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
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
    let env = env();
    let client = client().await;
    let ns = "transport-tls";
    namespace(&client, ns).await;
    put_secret(&client, ns, "opschain-credentials", credentials("opschain")).await;
    let ca = test_ca();
    let backend = env
        .endpoint("opschain")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let port = tls_front(&ca, backend).await;
    let endpoint = format!("https://localhost:{port}");
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
        &Api::<converge::project::crd::Project>::namespaced(client.clone(), ns),
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
