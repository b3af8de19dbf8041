package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of everything `up` generates under DIR/pki.
type pki struct {
	dir                        string
	caCert, caKey              string
	servingCert, servingKey    string
	adminCert, adminKey        string
	saKey                      string
	frontProxyCA               string
	frontProxyCert             string
	frontProxyKey              string
	caPEM, adminPEM, adminKPEM []byte
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	return os.WriteFile(path, data, mode)
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func ecKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pemEncode("PRIVATE KEY", der), nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// generatePKI creates a throw-away CA, an apiserver serving certificate for
// loopback, an admin client certificate in system:masters and a
// service-account signing key.
func generatePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		dir:         dir,
		caCert:      filepath.Join(dir, "ca.crt"),
		caKey:       filepath.Join(dir, "ca.key"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		adminCert:   filepath.Join(dir, "admin.crt"),
		adminKey:    filepath.Join(dir, "admin.key"),
		saKey:       filepath.Join(dir, "sa.key"),

		frontProxyCA:   filepath.Join(dir, "front-proxy-ca.crt"),
		frontProxyCert: filepath.Join(dir, "front-proxy-client.crt"),
		frontProxyKey:  filepath.Join(dir, "front-proxy-client.key"),
	}
	now := time.Now().Add(-1 * time.Hour)
	notAfter := now.Add(10 * 365 * 24 * time.Hour)

	newCA := func(cn, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, nil, err
		}
		sn, err := serial()
		if err != nil {
			return nil, nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          sn,
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             now,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("CA certificate %s: %w", cn, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, nil, err
		}
		certPEM := pemEncode("CERTIFICATE", der)
		keyPEM, err := ecKeyPEM(key)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := writeFile(certPath, certPEM, 0o644); err != nil {
			return nil, nil, nil, err
		}
		if keyPath != "" {
			if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
				return nil, nil, nil, err
			}
		}
		return cert, key, certPEM, nil
	}
	ca, caKey, caPEM, err := newCA("converge-testplane-ca", p.caCert, p.caKey)
	if err != nil {
		return nil, err
	}
	p.caPEM = caPEM
	// The aggregation layer's requestheader ("front proxy") client CA.
	fpCA, fpKey, _, err := newCA("converge-testplane-front-proxy-ca", p.frontProxyCA, "")
	if err != nil {
		return nil, err
	}

	issue := func(tmpl *x509.Certificate, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) ([]byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		sn, err := serial()
		if err != nil {
			return nil, nil, err
		}
		tmpl.SerialNumber = sn
		tmpl.NotBefore = now
		tmpl.NotAfter = notAfter
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.BasicConstraintsValid = true
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), crypto.Signer(caKey))
		if err != nil {
			return nil, nil, fmt.Errorf("certificate %s: %w", tmpl.Subject.CommonName, err)
		}
		certPEM := pemEncode("CERTIFICATE", der)
		keyPEM, err := ecKeyPEM(key)
		if err != nil {
			return nil, nil, err
		}
		if err := writeFile(certPath, certPEM, 0o644); err != nil {
			return nil, nil, err
		}
		if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
			return nil, nil, err
		}
		return certPEM, keyPEM, nil
	}

	if _, _, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		// 10.0.0.1 is the "kubernetes" Service IP in --service-cluster-ip-range.
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback, net.ParseIP("10.0.0.1")},
	}, ca, caKey, p.servingCert, p.servingKey); err != nil {
		return nil, err
	}

	p.adminPEM, p.adminKPEM, err = issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "converge-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey, p.adminCert, p.adminKey)
	if err != nil {
		return nil, err
	}

	if _, _, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "front-proxy-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, fpCA, fpKey, p.frontProxyCert, p.frontProxyKey); err != nil {
		return nil, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := writeFile(p.saKey, pemEncode("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// writeKubeconfig writes an admin kubeconfig with the certificates embedded.
func writeKubeconfig(path, server string, p *pki) error {
	b64 := base64.StdEncoding.EncodeToString
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testplane
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: testplane
  context:
    cluster: testplane
    user: admin
    namespace: default
current-context: testplane
preferences: {}
`, server, b64(p.caPEM), b64(p.adminPEM), b64(p.adminKPEM))
	tmp := path + ".tmp"
	if err := writeFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
