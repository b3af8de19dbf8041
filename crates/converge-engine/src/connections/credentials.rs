//! Turning the connection's Secret into credentials, apart from any I/O. Messages name the
//! Secret and keys, never a value.

use k8s_openapi::api::core::v1::Secret;

use converge_api::connection::{CredentialType, Credentials};
use converge_platforms::Auth;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialProblem {
    #[error("Secret {0:?} does not exist in this namespace")]
    SecretMissing(String),
    #[error("Secret {secret:?} has no key {key:?}")]
    KeyMissing { secret: String, key: String },
    #[error("Secret {secret:?} key {key:?} is empty or not UTF-8 text")]
    KeyUnusable { secret: String, key: String },
    #[error(
        "Secret {secret:?} key {key:?} is shorter than 4 characters; no platform issues such credentials"
    )]
    TooShort { secret: String, key: String },
}

const MIN_SECRET_LEN: usize = 4;

/// The credentials a connection's spec points at, from the Secret (None: it does not exist).
pub fn from_secret(spec: &Credentials, secret: Option<&Secret>) -> Result<Auth, CredentialProblem> {
    let name = &spec.secret_name;
    let secret = secret.ok_or_else(|| CredentialProblem::SecretMissing(name.clone()))?;
    let value = |key: &str| -> Result<String, CredentialProblem> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| CredentialProblem::KeyMissing {
                secret: name.clone(),
                key: key.into(),
            })?;
        let text = String::from_utf8(bytes)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        text.ok_or_else(|| CredentialProblem::KeyUnusable {
            secret: name.clone(),
            key: key.into(),
        })
    };
    let checked = |key: &str| -> Result<String, CredentialProblem> {
        let v = value(key)?;
        if v.len() < MIN_SECRET_LEN {
            return Err(CredentialProblem::TooShort {
                secret: name.clone(),
                key: key.into(),
            });
        }
        Ok(v)
    };
    match spec.type_.unwrap_or_default() {
        CredentialType::Token => Ok(Auth::bearer(checked(
            spec.token_key.as_deref().unwrap_or("token"),
        )?)),
        CredentialType::Basic => {
            let username = value(spec.username_key.as_deref().unwrap_or("username"))?;
            let password = checked(spec.password_key.as_deref().unwrap_or("password"))?;
            Ok(Auth::basic(username, password))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    fn spec(type_: Option<CredentialType>) -> Credentials {
        Credentials {
            secret_name: "creds".into(),
            type_,
            token_key: None,
            username_key: None,
            password_key: None,
        }
    }

    #[test]
    fn a_token_comes_from_the_token_key() {
        let auth = from_secret(&spec(None), Some(&secret(&[("token", "abcd-1234\n")]))).unwrap();
        assert_eq!(
            auth,
            Auth::bearer("abcd-1234"),
            "surrounding whitespace (a trailing newline from a file) is dropped"
        );
    }

    #[test]
    fn basic_credentials_come_from_username_and_password() {
        let auth = from_secret(
            &spec(Some(CredentialType::Basic)),
            Some(&secret(&[("username", "ann"), ("password", "s3cret")])),
        )
        .unwrap();
        assert_eq!(auth, Auth::basic("ann", "s3cret"));
    }

    #[test]
    fn custom_keys_are_honoured() {
        let mut s = spec(None);
        s.token_key = Some("api-key".into());
        assert_eq!(
            from_secret(&s, Some(&secret(&[("api-key", "k-9999")]))).unwrap(),
            Auth::bearer("k-9999")
        );
    }

    #[test]
    fn problems_name_the_secret_and_key_but_never_the_value() {
        assert_eq!(
            from_secret(&spec(None), None).unwrap_err(),
            CredentialProblem::SecretMissing("creds".into())
        );
        let e = from_secret(&spec(None), Some(&secret(&[("tokne", "abcd-1234")]))).unwrap_err();
        assert_eq!(e.to_string(), "Secret \"creds\" has no key \"token\"");
        let e = from_secret(&spec(None), Some(&secret(&[("token", "xyz")]))).unwrap_err();
        assert!(matches!(e, CredentialProblem::TooShort { .. }));
        assert!(!e.to_string().contains("xyz"));
        let e = from_secret(&spec(None), Some(&secret(&[("token", "  ")]))).unwrap_err();
        assert!(matches!(e, CredentialProblem::KeyUnusable { .. }));
    }
}
