package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files of one side of an mTLS connection, named as buildctl's --tlsdir
// expects them: ca.pem (the CA that signed the peer), cert.pem, key.pem.
type TLSFiles struct {
	// Dir holds the three files; pass it to buildctl --tlsdir.
	Dir string
	// CACert, Cert and Key are the paths of ca.pem, cert.pem and key.pem in Dir.
	CACert, Cert, Key string
}

func tlsFilesIn(dir string) TLSFiles {
	return TLSFiles{Dir: dir, CACert: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
}

// mintMTLS creates a throwaway CA under dir and two leaf certificates it signs: one for a server
// at 127.0.0.1 (and "localhost") and one for a client (CN "safebuild-stack-client"), each valid
// for a day, ECDSA P-256. It writes dir/server and dir/client as TLSFiles, keys 0600.
func mintMTLS(dir string) (server, client TLSFiles, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return server, client, err
	}
	now := time.Now()
	serial, err := randSerial()
	if err != nil {
		return server, client, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "safebuild stack CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return server, client, fmt.Errorf("minting the stack's TLS CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return server, client, err
	}
	leaf := func(sub string, tmpl *x509.Certificate) (TLSFiles, error) {
		files := tlsFilesIn(filepath.Join(dir, sub))
		if err := os.MkdirAll(files.Dir, 0o700); err != nil {
			return files, err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return files, err
		}
		if tmpl.SerialNumber, err = randSerial(); err != nil {
			return files, err
		}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return files, fmt.Errorf("minting the stack's %s certificate: %w", sub, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return files, err
		}
		for _, f := range []struct {
			path, typ string
			der       []byte
			mode      os.FileMode
		}{
			{files.CACert, "CERTIFICATE", caDER, 0o644},
			{files.Cert, "CERTIFICATE", der, 0o644},
			{files.Key, "PRIVATE KEY", keyDER, 0o600},
		} {
			if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
				return files, err
			}
		}
		return files, nil
	}
	server, err = leaf("server", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return server, client, err
	}
	client, err = leaf("client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "safebuild-stack-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return server, client, err
}

// randSerial is a random 127-bit certificate serial number.
func randSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}
