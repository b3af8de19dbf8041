//! Just enough PEM and X.509 (DER) reading to answer certificate details as API7 Cloud does:
//! SNIs (the DNS names of the subjectAltName extension, else the common name), validity,
//! subject and issuer (`CN=...,O=...,C=...` as Go prints a `pkix.Name`), the serial number in
//! decimal, and the signature algorithm under Go's names (`SHA256-RSA`, `ECDSA-SHA256`...).
//! Whether the private key belongs to the certificate is not checked (that needs the
//! cryptography this crate does not carry); the key must still be a PEM private key.

use base64::Engine as _;
use jiff::Timestamp;

use super::model::CertificateMetadata;

/// The first PEM block of `text`: its label and DER bytes.
pub fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or("no PEM block (-----BEGIN ...-----) found")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or("malformed PEM header")?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| format!("PEM block {label} has no end line"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("PEM block {label} is not valid base64: {e}"))?;
    Ok((label, der))
}

/// Checks that `text` holds a PEM private key (PKCS#8, PKCS#1 or SEC1), without showing it.
pub fn check_private_key(text: &str) -> Result<(), String> {
    let (label, der) = pem_block(text)?;
    if !label.ends_with("PRIVATE KEY") {
        return Err(format!("expected a PRIVATE KEY PEM block, found {label}"));
    }
    let mut r = Der::new(&der);
    match r.read()? {
        (0x30, _) => Ok(()),
        _ => Err("the private key is not a DER sequence".into()),
    }
}

/// Reads a PEM certificate's metadata.
pub fn certificate_metadata(text: &str) -> Result<CertificateMetadata, String> {
    let (label, der) = pem_block(text)?;
    if label != "CERTIFICATE" {
        return Err(format!("expected a CERTIFICATE PEM block, found {label}"));
    }
    parse_certificate(&der).map_err(|e| format!("not an X.509 certificate: {e}"))
}

fn parse_certificate(der: &[u8]) -> Result<CertificateMetadata, String> {
    let cert = Der::new(der).expect(0x30)?;
    let mut cert = Der::new(cert);
    let mut tbs = Der::new(cert.expect(0x30)?);
    let sig_alg = Der::new(cert.expect(0x30)?).expect(0x06)?;

    if tbs.peek() == Some(0xA0) {
        tbs.read()?;
    }
    let serial = tbs.expect(0x02)?;
    tbs.expect(0x30)?;
    let issuer = name(tbs.expect(0x30)?)?;
    let mut validity = Der::new(tbs.expect(0x30)?);
    let not_before = time(validity.read()?)?;
    let not_after = time(validity.read()?)?;
    let subject_der = tbs.expect(0x30)?;
    let subject = name(subject_der)?;
    tbs.expect(0x30)?;

    let mut dns_names = Vec::new();
    while !tbs.done() {
        let (tag, content) = tbs.read()?;
        if tag != 0xA3 {
            continue;
        }
        let mut exts = Der::new(Der::new(content).expect(0x30)?);
        while !exts.done() {
            let mut ext = Der::new(exts.expect(0x30)?);
            let oid = oid_string(ext.expect(0x06)?);
            if ext.peek() == Some(0x01) {
                ext.read()?;
            }
            let value = ext.expect(0x04)?;
            if oid == "2.5.29.17" {
                let mut names = Der::new(Der::new(value).expect(0x30)?);
                while !names.done() {
                    let (tag, content) = names.read()?;
                    if tag == 0x82 {
                        dns_names.push(String::from_utf8_lossy(content).into_owned());
                    }
                }
            }
        }
    }
    if dns_names.is_empty() {
        dns_names.extend(common_name(subject_der)?);
    }
    Ok(CertificateMetadata {
        snis: dns_names,
        not_before: Some(not_before),
        not_after: Some(not_after),
        subject,
        issuer,
        serial_number: decimal(serial),
        signature_algorithm: signature_algorithm(&oid_string(sig_alg)),
    })
}

/// A DER reader over one level of TLVs.
struct Der<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Der<'a> {
    fn new(data: &'a [u8]) -> Self {
        Der { data, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn read(&mut self) -> Result<(u8, &'a [u8]), String> {
        let tag = *self.data.get(self.pos).ok_or("truncated DER")?;
        let first = *self.data.get(self.pos + 1).ok_or("truncated DER")?;
        let mut at = self.pos + 2;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 {
                return Err("unsupported DER length".into());
            }
            let bytes = self.data.get(at..at + n).ok_or("truncated DER")?;
            at += n;
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
        };
        let content = self.data.get(at..at + len).ok_or("truncated DER")?;
        self.pos = at + len;
        Ok((tag, content))
    }

    fn expect(&mut self, want: u8) -> Result<&'a [u8], String> {
        let (tag, content) = self.read()?;
        if tag != want {
            return Err(format!("expected DER tag {want:#04x}, found {tag:#04x}"));
        }
        Ok(content)
    }
}

fn oid_string(bytes: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        value = (value << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if i == 0 || parts.is_empty() {
                let (first, second) = match value {
                    0..=39 => (0, value),
                    40..=79 => (1, value - 40),
                    _ => (2, value - 80),
                };
                parts.push(first.to_string());
                parts.push(second.to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
}

fn attribute_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN".into(),
        "2.5.4.5" => "SERIALNUMBER".into(),
        "2.5.4.6" => "C".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.9" => "STREET".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.17" => "POSTALCODE".into(),
        other => other.to_string(),
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The attributes of a Name, in certificate order.
fn attributes(der: &[u8]) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut rdns = Der::new(der);
    let mut out = Vec::new();
    while !rdns.done() {
        let mut set = Der::new(rdns.expect(0x31)?);
        let mut rdn = Vec::new();
        while !set.done() {
            let mut atv = Der::new(set.expect(0x30)?);
            let oid = oid_string(atv.expect(0x06)?);
            let (_, value) = atv.read()?;
            rdn.push((oid, String::from_utf8_lossy(value).into_owned()));
        }
        out.push(rdn);
    }
    Ok(out)
}

/// A Name as Go's `pkix.Name.String()` prints it: last RDN first.
fn name(der: &[u8]) -> Result<String, String> {
    let rdns = attributes(der)?;
    Ok(rdns
        .iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|(oid, v)| format!("{}={}", attribute_name(oid), escape(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(","))
}

fn common_name(der: &[u8]) -> Result<Option<String>, String> {
    Ok(attributes(der)?
        .into_iter()
        .flatten()
        .find(|(oid, _)| oid == "2.5.4.3")
        .map(|(_, v)| v))
}

fn time((tag, content): (u8, &[u8])) -> Result<Timestamp, String> {
    let s = std::str::from_utf8(content).map_err(|_| "bad time")?;
    let full = match tag {
        0x17 if s.len() == 13 => {
            let yy: u32 = s[..2].parse().map_err(|_| "bad UTCTime")?;
            let century = if yy < 50 { "20" } else { "19" };
            format!("{century}{s}")
        }
        0x18 if s.len() == 15 => s.to_string(),
        _ => return Err(format!("unsupported time {s:?}")),
    };
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    rfc3339
        .parse()
        .map_err(|e| format!("bad validity time {s:?}: {e}"))
}

/// A DER INTEGER (big-endian, two's complement, positive for serials) in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if digits.is_empty() {
        return "0".into();
    }
    let mut out = Vec::new();
    while !digits.is_empty() {
        let mut rem: u32 = 0;
        let mut next = Vec::with_capacity(digits.len());
        for b in &digits {
            let cur = (rem << 8) | *b as u32;
            let q = cur / 10;
            rem = cur % 10;
            if !(next.is_empty() && q == 0) {
                next.push(q as u8);
            }
        }
        out.push(b'0' + rem as u8);
        digits = next;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn signature_algorithm(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.5" => "SHA1-RSA",
        "1.2.840.113549.1.1.10" => "SHA256-RSAPSS",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.3.101.112" => "Ed25519",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_print_in_decimal() {
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0x00, 0xff, 0xff]), "65535");
        assert_eq!(
            decimal(&[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            "18446744073709551616"
        );
    }

    #[test]
    fn oids_decode() {
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]),
            "1.2.840.113549.1.1.11"
        );
        assert_eq!(oid_string(&[0x55, 0x04, 0x03]), "2.5.4.3");
    }
}
