//! Certificates of the cluster (`/clusters/{cluster_id}/certificates`): Server certificates
//! for the applications' hosts, Client certificates for upstreams.
//!
//! The platform never answers the PEM texts, only what it read from them; and it answers those
//! details flat on create, get and list but nested under `"Metadata"` on update. Both shapes
//! decode to the same [`Certificate`].

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::envelope::null_default;
use super::{Api7Client, CertificateType, ClientError, EntityStatus, ListFilter, check_id};

/// What a client sets on a certificate: the body of a create and of a `PUT`. `Debug` never
/// prints the private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSpec {
    /// PEM certificate (chain).
    pub certificate: String,
    /// PEM private key. Secret.
    pub private_key: String,
    /// PEM CA certificate, to verify clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<String>,
    /// Server when not given.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CertificateType>,
}

impl std::fmt::Debug for CertificateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateSpec")
            .field("certificate", &format!("{} bytes", self.certificate.len()))
            .field("private_key", &"[redacted]")
            .field(
                "ca_certificate",
                &self.ca_certificate.as_ref().map(|c| c.len()),
            )
            .field("labels", &self.labels)
            .field("kind", &self.kind)
            .finish()
    }
}

/// What the platform read from a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateMetadata {
    /// The names the certificate covers (`*.example.com` for wildcards).
    #[serde(deserialize_with = "null_default")]
    pub snis: Vec<String>,
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// When it expires.
    #[serde(default)]
    pub not_after: Option<Timestamp>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub serial_number: String,
    #[serde(default)]
    pub signature_algorithm: String,
}

/// A certificate as the platform answers it (never with its PEM texts).
#[derive(Clone, Debug, PartialEq)]
pub struct Certificate {
    pub id: String,
    pub cluster_id: String,
    pub status: EntityStatus,
    pub kind: CertificateType,
    pub labels: Vec<String>,
    pub metadata: CertificateMetadata,
    /// Details of the CA certificate, when one was given.
    pub ca_metadata: Option<CertificateMetadata>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// Either shape of a certificate answer.
#[derive(Deserialize)]
struct CertificateAnswer {
    id: String,
    cluster_id: String,
    status: EntityStatus,
    #[serde(rename = "type")]
    kind: CertificateType,
    #[serde(default, deserialize_with = "null_default")]
    labels: Vec<String>,
    #[serde(default)]
    ca_certificate: Option<CertificateMetadata>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
    #[serde(rename = "Metadata", default)]
    nested: Option<CertificateMetadata>,
    #[serde(flatten)]
    flat: Option<CertificateMetadata>,
}

impl<'de> Deserialize<'de> for Certificate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let a = CertificateAnswer::deserialize(d)?;
        let metadata = a.nested.or(a.flat).ok_or_else(|| {
            serde::de::Error::custom("the certificate's details (snis, not_after...) are missing")
        })?;
        Ok(Certificate {
            id: a.id,
            cluster_id: a.cluster_id,
            status: a.status,
            kind: a.kind,
            labels: a.labels,
            metadata,
            ca_metadata: a.ca_certificate,
            created_at: a.created_at,
            updated_at: a.updated_at,
        })
    }
}

impl Api7Client {
    fn certificate_path(&self, certificate_id: &str) -> Result<String, ClientError> {
        check_id("certificate id", certificate_id)?;
        Ok(self.cluster_path(&format!("/certificates/{certificate_id}")))
    }

    /// Every certificate of the cluster matching `filter` (`search` matches SNIs and the
    /// subject), all pages walked. Certificates have no name: label the ones you manage to
    /// find them again.
    pub async fn list_certificates(
        &self,
        filter: &ListFilter,
    ) -> Result<Vec<Certificate>, ClientError> {
        self.list_all(
            "listCertificate",
            &self.cluster_path("/certificates"),
            filter,
        )
        .await
    }

    /// One certificate. 404 when it is not in the cluster.
    pub async fn get_certificate(&self, certificate_id: &str) -> Result<Certificate, ClientError> {
        let path = self.certificate_path(certificate_id)?;
        let call = Self::call(Method::GET, "getCertificate", &path);
        self.payload(self.in_cluster(call)).await
    }

    /// Uploads a certificate and its key. Not retried, and with no natural key: after an error
    /// whose effect is unknown, list by an ownership label. 400 when the certificate or key is
    /// not valid PEM.
    pub async fn create_certificate(
        &self,
        spec: &CertificateSpec,
    ) -> Result<Certificate, ClientError> {
        let path = self.cluster_path("/certificates");
        let call = Self::call(Method::POST, "createCertificate", &path).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Replaces the whole certificate (new PEM texts, labels, type).
    pub async fn update_certificate(
        &self,
        certificate_id: &str,
        spec: &CertificateSpec,
    ) -> Result<Certificate, ClientError> {
        let path = self.certificate_path(certificate_id)?;
        let call = Self::call(Method::PUT, "updateCertificate", &path).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Deletes a certificate. 400 while an application upstream uses it as its client
    /// certificate; 404 when already gone.
    pub async fn delete_certificate(&self, certificate_id: &str) -> Result<(), ClientError> {
        let path = self.certificate_path(certificate_id)?;
        let call = Self::call(Method::DELETE, "deleteCertificate", &path);
        self.no_payload(self.in_cluster(call)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_decode_flat_or_nested_under_metadata() {
        let details = serde_json::json!({
            "snis": ["a.test"], "not_after": "2036-01-01T00:00:00Z", "subject": "CN=a.test",
            "issuer": "CN=a.test", "serial_number": "01", "signature_algorithm": "ECDSA-SHA256"
        });
        let mut flat = serde_json::json!({
            "id": "417355345116284931", "cluster_id": "2001", "status": 50, "type": "Server",
            "labels": null
        });
        let mut nested = flat.clone();
        flat.as_object_mut()
            .unwrap()
            .extend(details.as_object().unwrap().clone());
        nested["Metadata"] = details;
        let a: Certificate = serde_json::from_value(flat).unwrap();
        let b: Certificate = serde_json::from_value(nested).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.metadata.snis, ["a.test"]);
        assert_eq!(a.id, "417355345116284931");
        assert!(a.labels.is_empty());

        let missing = serde_json::json!({
            "id": "1", "cluster_id": "2001", "status": 50, "type": "Server"
        });
        let err = serde_json::from_value::<Certificate>(missing).unwrap_err();
        assert!(err.to_string().contains("details"), "{err}");
    }

    #[test]
    fn the_private_key_never_prints() {
        let spec = CertificateSpec {
            certificate: "-----BEGIN CERTIFICATE-----".into(),
            private_key: "-----BEGIN PRIVATE KEY-----secret".into(),
            ca_certificate: None,
            labels: vec![],
            kind: None,
        };
        assert!(!format!("{spec:?}").contains("secret"));
    }
}
