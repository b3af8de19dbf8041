//! ApiSpec: an OpenAPI definition on Frends (versions, publish, deploy, passthrough), API7 Cloud (imported as an application) or Choreo (observed).

pub mod crd;
