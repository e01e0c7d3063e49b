"""Test x509 files made with openssl: a CA, a server certificate and client certificates.

Shaped the way libvirt's gnutls checks want them (libvirt's "TLS x509 certificate
configuration" page): a CA with basicConstraints CA:TRUE and keyCertSign; a server
certificate for 127.0.0.1/localhost with serverAuth; client certificates with
clientAuth whose subject DNs the daemon's tls_allowed_dn_list is matched against.
Laid out as libvirt's ?pkipath=DIR expects: DIR/cacert.pem, DIR/clientcert.pem,
DIR/clientkey.pem (client side) and cacert.pem, servercert.pem, serverkey.pem (server).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=clientAuth\n")


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _key(path: Path) -> None:
    _ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
         str(path), cwd=path.parent)


def _signed(d: Path, name: str, subject: str, ext: str, ca: str = "ca") -> None:
    _key(d / f"{name}key.pem")
    (d / f"{name}.ext").write_text(ext)
    _ssl("req", "-new", "-key", f"{name}key.pem", "-subj", subject, "-out", f"{name}.csr", cwd=d)
    _ssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}cert.pem", "-CAkey", f"{ca}key.pem",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
         "-out", f"{name}cert.pem", cwd=d)


def make_pki(d: Path, clients: dict[str, str]) -> Path:
    """Make the CA, the server pair and one client pair per {name: subject} under d;
    a client named "rogue" is signed by a second CA the daemon does not trust."""
    d.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "rogueca"):
        _key(d / f"{ca}key.pem")
        (d / f"{ca}.ext").write_text(CA_EXT)
        _ssl("req", "-new", "-x509", "-key", f"{ca}key.pem", "-subj",
             f"/C=GB/O=pyvirt tests/CN={ca}", "-days", "2", "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{ca}cert.pem", cwd=d)
    _signed(d, "server", "/C=GB/O=pyvirt tests/CN=localhost", SERVER_EXT)
    for name, subject in clients.items():
        _signed(d, name, subject, CLIENT_EXT, "rogueca" if name == "rogue" else "ca")
    return d


def client_dir(pki: Path, name: str) -> Path:
    """A ?pkipath directory holding client `name`'s files under libvirt's names."""
    out = pki / f"client-{name}"
    out.mkdir(exist_ok=True)
    shutil.copy(pki / "cacert.pem", out / "cacert.pem")
    shutil.copy(pki / f"{name}cert.pem", out / "clientcert.pem")
    shutil.copy(pki / f"{name}key.pem", out / "clientkey.pem")
    return out


def server_config(pki: Path, allowed: list[str]) -> str:
    dns = ", ".join(f'"{a}"' for a in allowed)
    return (f'key_file = "{pki / "serverkey.pem"}"\ncert_file = "{pki / "servercert.pem"}"\n'
            f'ca_file = "{pki / "cacert.pem"}"\ntls_allowed_dn_list = [{dns}]\n')
