package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/refkit/refkit/referral"
)

// keyID is the kid of the generated key, in its JWKS and in every token.
const keyID = "refkit-load-1"

// keygenCmd writes a new P-256 signing key (PKCS #8 PEM) and its public JWKS.
func keygenCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := fs.String("out", ".", "directory to write signing-key.pem and jwks.json to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	keyFile := filepath.Join(*out, "signing-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	set, err := jwksOf(&key.PublicKey)
	if err != nil {
		return err
	}
	jwksFile := filepath.Join(*out, "jwks.json")
	if err := os.WriteFile(jwksFile, set, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s\n", keyFile, jwksFile)
	return nil
}

// jwksOf is the JWK Set of one ES256 public key.
func jwksOf(pub *ecdsa.PublicKey) ([]byte, error) {
	ecdh, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	raw := ecdh.Bytes() // 0x04 || X || Y
	b64 := base64.RawURLEncoding.EncodeToString
	return json.MarshalIndent(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": keyID, "alg": "ES256", "use": "sig",
		"x": b64(raw[1:33]), "y": b64(raw[33:65]),
	}}}, "", "  ")
}

// loadKey reads a key keygen wrote.
func loadKey(file string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("the key file holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the key is not an EC key")
	}
	return ec, nil
}

// minter signs tokens the way refkit serve reads them by default.
type minter struct {
	key              *ecdsa.PrivateKey
	issuer, audience string
	ttl              time.Duration
}

func (m minter) token(a referral.Actor) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": m.issuer, "aud": m.audience, "sub": a.User, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(m.ttl).Unix(), "refkit_network": a.Network.String(), "refkit_role": string(a.Role),
	}
	if !a.Organization.IsZero() {
		claims["refkit_organization"] = a.Organization.String()
	}
	if !a.Person.IsZero() {
		claims["refkit_person"] = a.Person.String()
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = keyID
	return t.SignedString(m.key)
}

// minterFlags are the flags token and run share.
func minterFlags(fs *flag.FlagSet) func() (minter, error) {
	keyFile := fs.String("key", "signing-key.pem", "signing key file keygen wrote")
	issuer := fs.String("issuer", "https://id.refkit.test", "token issuer (refkit serve --issuer)")
	audience := fs.String("audience", "refkit", "token audience (refkit serve --audience)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	return func() (minter, error) {
		key, err := loadKey(*keyFile)
		if err != nil {
			return minter{}, fmt.Errorf("--key: %w", err)
		}
		return minter{key: key, issuer: *issuer, audience: *audience, ttl: *ttl}, nil
	}
}

// tokenCmd prints one token.
func tokenCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	load := minterFlags(fs)
	network := fs.String("network", "", "network id (required)")
	org := fs.String("organization", "", "organization id (staff and admin)")
	role := fs.String("role", "staff", "staff, admin or delegate")
	user := fs.String("user", "load", "user name (sub)")
	person := fs.String("person", "", "person id (delegate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := load()
	if err != nil {
		return err
	}
	a := referral.Actor{Role: referral.Role(*role), User: *user}
	for _, f := range []struct {
		name, v string
		id      *referral.ID
	}{{"network", *network, &a.Network}, {"organization", *org, &a.Organization}, {"person", *person, &a.Person}} {
		if f.v == "" {
			continue
		}
		if *f.id, err = referral.ParseID(f.v); err != nil {
			return fmt.Errorf("--%s: not a UUID", f.name)
		}
	}
	if err := a.Validate(); err != nil {
		return err
	}
	tok, err := m.token(a)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// idCmd prints new record ids (UUIDv7), one a line: shell scripts need them
// to name the records they PUT.
func idCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("id", flag.ContinueOnError)
	n := fs.Int("n", 1, "how many ids, 1 to 1000")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 1000 {
		return errors.New("-n must be 1 to 1000")
	}
	ids := referral.NewIDGenerator(time.Now, nil)
	for range *n {
		id, err := ids.New()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, id)
	}
	return nil
}
