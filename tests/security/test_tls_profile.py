"""The hub's TLS against Mozilla's "intermediate" profile (issue 12, item 13), checked by a
scanner nobody here wrote: sslyze, installed into its own virtual environment by this test
(``.cache/sslyze-venv``; the first run downloads it from PyPI)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.security.hubproc import hub_process

ROOT = Path(__file__).resolve().parents[2]
SSLYZE_VENV = ROOT / ".cache" / "sslyze-venv"
SSLYZE = "sslyze==6.3.1"


def sslyze() -> Path:
    python = SSLYZE_VENV / "bin" / "python"
    if not (SSLYZE_VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(SSLYZE_VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", SSLYZE],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"cannot install {SSLYZE} from PyPI: {done.stderr[-2000:]}"
        (SSLYZE_VENV / ".installed").touch()
    return python


def write_pki(folder: Path) -> None:
    """A CA and a 90-day P-256 server certificate for 127.0.0.1 (RFC 5280-clean, which the
    scanner's path validation insists on: trustme marks the SAN critical beside a subject)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tradewire test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def test_tls_is_mozilla_intermediate_compliant(tmp_path: Path) -> None:
    python = sslyze()
    write_pki(tmp_path)
    config = '[tls]\ncert = "server.pem"\nkey = "server.key"\n'
    with hub_process(tmp_path, config) as port:
        scan = subprocess.run(
            [
                str(python),
                "-m",
                "sslyze",
                "--mozilla_config",
                "intermediate",
                "--certinfo_ca_file",
                str(tmp_path / "ca.pem"),
                "--json_out",
                str(tmp_path / "scan.json"),
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    result = json.loads((tmp_path / "scan.json").read_text())["server_scan_results"][0]
    scan_result = result["scan_result"]

    def accepted(kind: str) -> list[str]:
        suites = scan_result[f"{kind}_cipher_suites"]["result"]["accepted_cipher_suites"]
        return [s["cipher_suite"]["name"] for s in suites]

    curves = [c["name"] for c in scan_result["elliptic_curves"]["result"]["supported_curves"]]
    print(
        f"\nsslyze: TLS 1.2 {accepted('tls_1_2')}; TLS 1.3 {accepted('tls_1_3')}; "
        f"curves {curves}; {scan.stdout.strip().splitlines()[-1]}"
    )
    assert scan.returncode == 0, scan.stdout[-3000:]
    assert "OK - Compliant." in scan.stdout
    assert not accepted("ssl_3_0") and not accepted("tls_1_0") and not accepted("tls_1_1")
    assert not [s for s in accepted("tls_1_2") if "CBC" in s or s[-4:] == "_SHA"]
    assert set(curves) <= {"X25519", "prime256v1", "secp256r1", "secp384r1"}
