"""Every way to sign in to Graph, and every cloud name, through ansible-playbook against the lab's emulator.

The emulator serves a managed identity endpoint as App Service does (msal finds it through
IDENTITY_ENDPOINT and IDENTITY_HEADER), trusts the lab's federated issuer for one subject of the
full app, and holds the full app's certificate as an encrypted PEM and as a PKCS#12 file
(tests/lab/entra/_workload.py). A read of the tenant's sync switches proves the token; the
emulator's request log tells which identity Graph saw.
"""

from __future__ import annotations

import pytest

from tests.integration._ansible import task_result
from tests.lab.entra._credentials import Credentials
from tests.lab.entra._workload import Workload

SCENARIO = {"tenant": {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]},
            "cloud": {"users": []}}
ENDPOINTS = ("tenant_id", "authority_host", "graph_endpoint", "graph_ca_cert")


@pytest.fixture(scope="module")
def emulator(lab):
    lab.load(SCENARIO)
    return lab.service("entra").emulator


@pytest.fixture(scope="module")
def workload(lab) -> Workload:
    return Workload.ensure(lab.lab_dir, Credentials.ensure(lab.lab_dir))


def read_switches(lab, emulator, options: dict, environment: dict | None = None):
    """hybrid.identity.directory_sync_features reading the switches; (result, app ids Graph saw, output)."""
    emulator.clear_requests()
    task = {"name": "Read the sync switches", "hybrid.identity.directory_sync_features": options}
    if environment:
        task["environment"] = environment
    completed, result = task_result(task, extra_vars_files=(lab.vars_path,))
    apps = {entry["app"] for entry in emulator.requests()["log"] if entry["path"].startswith("/v1.0/")}
    return result, apps, completed.stdout + completed.stderr


def endpoints(lab_vars: dict, *names: str) -> dict:
    return {name: lab_vars[name] for name in ENDPOINTS + names}


def identity_environment(lab_vars: dict, header: str | None = None) -> dict:
    return {"IDENTITY_ENDPOINT": lab_vars["lab_identity_endpoint"],
            "IDENTITY_HEADER": header or lab_vars["lab_identity_header"]}


def assert_signed_in(result, apps, output, client_id):
    assert not result.get("failed"), output
    assert "blockSoftMatchEnabled" in result["features"]
    assert apps == {client_id}


# --- managed identity ---------------------------------------------------------------------------


def test_system_assigned_managed_identity(lab, lab_vars, emulator):
    result, apps, output = read_switches(lab, emulator, endpoints(lab_vars) | {"managed_identity": "system"},
                                         identity_environment(lab_vars))

    assert_signed_in(result, apps, output, lab_vars["lab_system_identity_client_id"])


def test_user_assigned_managed_identity_named_by_its_client_id(lab, lab_vars, emulator):
    options = endpoints(lab_vars) | {"managed_identity": "user", "client_id": lab_vars["lab_user_identity_client_id"]}

    result, apps, output = read_switches(lab, emulator, options, identity_environment(lab_vars))

    assert_signed_in(result, apps, output, lab_vars["lab_user_identity_client_id"])


def test_managed_identity_the_host_lacks_is_refused_with_a_hint(lab, lab_vars, emulator):
    options = endpoints(lab_vars) | {"managed_identity": "user", "client_id": "00000000-0000-0000-0000-00000000abcd"}

    result, apps, _output = read_switches(lab, emulator, options, identity_environment(lab_vars))

    assert result["failed"] and not apps
    assert "refused the managed identity" in result["msg"]
    assert "No User Assigned or Delegated Managed Identity found" in result["msg"]
    assert "client_id is the identity's client ID" in result["hint"]


def test_managed_identity_endpoint_refuses_a_wrong_header(lab, lab_vars, emulator):
    result, apps, _output = read_switches(lab, emulator, endpoints(lab_vars) | {"managed_identity": "system"},
                                          identity_environment(lab_vars, header="not-the-header"))

    assert result["failed"] and not apps
    assert "X-IDENTITY-HEADER" in result["msg"]


def test_managed_identity_of_another_tenant_is_refused(lab, lab_vars, emulator):
    options = endpoints(lab_vars) | {"managed_identity": "system", "tenant_id": "11111111-2222-3333-4444-555555555555"}

    result, apps, _output = read_switches(lab, emulator, options, identity_environment(lab_vars))

    assert result["failed"] and not apps
    assert f"belongs to tenant {lab_vars['tenant_id']}" in result["msg"]


# --- workload identity federation ------------------------------------------------------------------


def test_federated_token_file_from_the_environment(lab, lab_vars, emulator, workload, tmp_path):
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(workload.federated_token())
    options = endpoints(lab_vars, "client_id")

    result, apps, output = read_switches(lab, emulator, options, {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)})

    assert_signed_in(result, apps, output, lab_vars["client_id"])


def test_federated_token_of_another_subject_is_refused(lab, lab_vars, emulator, workload, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(workload.federated_token(subject="system:serviceaccount:other:intruder"))
    options = endpoints(lab_vars, "client_id") | {"federated_token_file": str(token_file)}

    result, apps, _output = read_switches(lab, emulator, options)

    assert result["failed"] and not apps
    assert "refused the federated token" in result["msg"] and "AADSTS70021" in result["msg"]
    assert "federated identity credential" in result["hint"]


def test_federated_token_file_without_a_token_changes_nothing(lab, lab_vars, emulator, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("not a token\n")
    options = endpoints(lab_vars, "client_id") | {"federated_token_file": str(token_file)}

    result, apps, _output = read_switches(lab, emulator, options)

    assert result["failed"] and not apps
    assert "holds no JWT" in result["msg"]


# --- certificates with a password ---------------------------------------------------------------


@pytest.mark.parametrize("file_var", ["lab_client_certificate_encrypted", "lab_client_certificate_pfx"])
def test_protected_certificate_with_its_password(lab, lab_vars, emulator, file_var):
    password = lab_vars["lab_client_certificate_password"]
    options = endpoints(lab_vars, "client_id") | {"client_certificate": lab_vars[file_var],
                                                  "client_certificate_password": password}

    result, apps, output = read_switches(lab, emulator, options)

    assert_signed_in(result, apps, output, lab_vars["client_id"])
    assert password not in output


@pytest.mark.parametrize(("file_var", "password", "said"), [
    ("lab_client_certificate_encrypted", None, "is encrypted and no client_certificate_password is given"),
    ("lab_client_certificate_encrypted", "wrong-password", "the client_certificate_password is wrong"),
    ("lab_client_certificate_pfx", None, "it is protected by a password"),
    ("lab_client_certificate_pfx", "wrong-password", "the password is wrong"),
])
def test_protected_certificate_without_its_password_is_refused_before_sending(
        lab, lab_vars, emulator, file_var, password, said):
    options = endpoints(lab_vars, "client_id") | {"client_certificate": lab_vars[file_var]}
    if password:
        options["client_certificate_password"] = password

    result, apps, _output = read_switches(lab, emulator, options)

    assert result["failed"] and not apps
    assert said in result["msg"]
    assert "client_certificate_password" in result["hint"]


def test_password_from_the_environment(lab, lab_vars, emulator):
    options = endpoints(lab_vars, "client_id") | {"client_certificate": lab_vars["lab_client_certificate_pfx"]}
    environment = {"AZURE_CLIENT_CERTIFICATE_PASSWORD": lab_vars["lab_client_certificate_password"]}

    result, apps, output = read_switches(lab, emulator, options, environment)

    assert_signed_in(result, apps, output, lab_vars["client_id"])


# --- clouds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["public", "usgovernment", "usgovernment_dod", "china"])
def test_explicit_endpoints_win_over_the_cloud(lab, lab_vars, emulator, cloud):
    options = endpoints(lab_vars, "client_id", "client_secret") | {"cloud": cloud}

    result, apps, output = read_switches(lab, emulator, options)

    assert_signed_in(result, apps, output, lab_vars["client_id"])


def test_bare_hosts_in_the_environment_are_https(lab, lab_vars, emulator):
    host = lab_vars["authority_host"].removeprefix("https://")
    options = {name: lab_vars[name] for name in ("tenant_id", "client_id", "client_secret", "graph_ca_cert")}

    result, apps, output = read_switches(lab, emulator, options | {"cloud": "usgovernment"},
                                         {"AZURE_AUTHORITY_HOST": host, "HYBRID_GRAPH_ENDPOINT": host})

    assert_signed_in(result, apps, output, lab_vars["client_id"])


def test_unknown_cloud_is_refused_with_the_names(lab, lab_vars, emulator):
    result, apps, _output = read_switches(lab, emulator, endpoints(lab_vars, "client_id", "client_secret"),
                                          {"HYBRID_GRAPH_CLOUD": "azurestack"})

    assert result["failed"] and not apps
    assert "usgovernment_dod" in result["msg"]
