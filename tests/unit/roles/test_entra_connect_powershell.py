"""The directory_sync role's Entra Connect path, as text: there is no Windows here to run it on.

The PowerShell must do what rule book §7 says, in that order, with every wait bounded; the
role must call it with the parameters it declares; and the role's parsing of its JSON report
(roles/directory_sync/vars/main.yml, rendered by Ansible's own templar) must judge sample
reports right.
"""

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[3] / "roles" / "directory_sync"
SCRIPT_PATH = ROLE / "files" / "Start-EntraConnectSyncCycle.ps1"
SCRIPT = SCRIPT_PATH.read_text(encoding="utf-8")
# The script's statements without its comments and help block.
CODE = re.sub(r"<#.*?#>|#[^\n]*", "", SCRIPT, flags=re.DOTALL)


def position(text: str) -> int:
    found = CODE.find(text)
    assert found >= 0, f"the script lacks {text!r}"
    return found


def loop_bodies() -> list[str]:
    """The body of every while loop, brace-matched."""
    bodies = []
    for match in re.finditer(r"\bwhile\s*\(", CODE):
        start = CODE.index("{", match.end())
        depth, index = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(CODE[index], 0)
            if depth == 0:
                break
            index += 1
        bodies.append(CODE[start:index + 1])
    return bodies


# --- the script ---------------------------------------------------------------------------


def test_refuses_on_a_staging_server_before_anything_else():
    staging = position("if ($scheduler.StagingModeEnabled)")
    assert staging < position("Start-ADSyncSyncCycle")
    refusal = CODE[staging:CODE.index("}", staging)]
    assert "'staging_server'" in refusal and "return" in refusal


def test_waits_while_a_cycle_is_in_progress_before_starting():
    assert "(Get-ADSyncScheduler).SyncCycleInProgress" in CODE
    assert position("while (Test-SyncCycleInProgress)") < position("Start-ADSyncSyncCycle")


def test_starts_a_delta_cycle_or_an_initial_one_by_option():
    assert "Start-ADSyncSyncCycle -PolicyType Delta" in CODE
    assert "Start-ADSyncSyncCycle -PolicyType Initial" in CODE
    assert re.search(r"\[ValidateSet\('Delta', 'Initial'\)\]\s*\[string\]\$PolicyType = 'Delta'", CODE)


def test_check_mode_starts_nothing():
    assert "[CmdletBinding(SupportsShouldProcess)]" in CODE
    assert position("$PSCmdlet.ShouldProcess(") < position("Start-ADSyncSyncCycle")


def test_waits_for_the_cycle_to_show_and_then_to_end():
    start = position("Start-ADSyncSyncCycle -PolicyType Delta")
    shows = position("while (-not (Test-SyncCycleInProgress) -and (Get-NewRun -Snapshot $before).Count -eq 0)")
    ends = CODE.index("while (Test-SyncCycleInProgress)", shows)
    assert start < shows < ends < position("Write-Report -Status 'completed'")


def function_body(name: str) -> str:
    """The body of one function of the script, brace-matched."""
    start = CODE.index("{", position(f"function {name} "))
    depth, index = 0, start
    while True:
        depth += {"{": 1, "}": -1}.get(CODE[index], 0)
        if depth == 0:
            return CODE[start:index + 1]
        index += 1


def test_the_run_history_is_noted_per_connector_right_before_the_start():
    # After the busy wait and check mode, so the old cycle's last runs are in the snapshot.
    snapshot = position("$before = Get-RunSnapshot")
    assert position("while (Test-SyncCycleInProgress)") < position("$PSCmdlet.ShouldProcess(") < snapshot
    assert snapshot < position("Start-ADSyncSyncCycle -PolicyType Initial")
    assert snapshot < position("Start-ADSyncSyncCycle -PolicyType Delta")
    body = function_body("Get-RunSnapshot")
    assert "Get-ADSyncRunProfileResult -NumberRequested $HistoryDepth" in body
    assert "$snapshot[$connector]" in body and "[string]$run.ConnectorName" in body
    assert "[long]$run.RunNumber -gt $last.run_number" in body
    assert "[DateTime]$run.StartDate -gt $last.start_date" in body


def test_a_run_counts_only_when_newer_than_its_connectors_newest_before_the_start():
    body = function_body("Test-NewerRun")
    assert "$Snapshot[[string]$Run.ConnectorName]" in body
    # RunNumber first, the start time only when a RunNumber is missing; strictly newer, never equal.
    by_number = body.index("return [long]$Run.RunNumber -gt $last.run_number")
    by_start = body.index("return [DateTime]$Run.StartDate -gt $last.start_date")
    assert by_number < by_start
    assert "-ge" not in body and "AddSeconds" not in body and "UtcNow" not in body
    assert body.rstrip("}").rstrip().endswith("return $false")
    # No run is picked by a time window around the start any more.
    assert "ClockSlack" not in CODE and "AddSeconds(-" not in CODE
    assert "Where-Object { Test-NewerRun -Run $_ -Snapshot $Snapshot }" in function_body("Get-NewRun")
    # Every read of the cycle's runs goes through the snapshot taken before the start.
    reads = re.findall(r"Get-NewRun -Snapshot (\$\w+)", CODE)
    assert len(reads) == 3 and set(reads) == {"$before"}
    assert CODE.count("Get-ADSyncRunProfileResult") == 2


def test_every_wait_is_bounded_and_sleeps_between_polls():
    bodies = loop_bodies()
    assert len(bodies) == 3
    for body in bodies:
        assert "[DateTime]::UtcNow -ge $deadline" in body
        assert "return" in body
        assert "Start-Sleep -Seconds $PollSeconds" in body
    for timeout in ("$BusyTimeoutSeconds", "$StartTimeoutSeconds", "$CycleTimeoutSeconds"):
        assert f".AddSeconds({timeout})" in CODE


def test_collects_the_run_profile_errors_of_the_new_runs():
    assert "Get-ADSyncRunProfileResult -NumberRequested $HistoryDepth -RunStepDetails:$WithSteps" in CODE
    assert "$run.Result -ne 'success'" in CODE
    for counter in ("StageFailure", "FlowFailure", "ExportFailure"):
        assert f"-Counter '{counter}'" in CODE
    assert "$started = [DateTime]::UtcNow" in CODE
    assert CODE.count("$newRuns = @(Get-NewRun -Snapshot $before -WithSteps)") == 2
    assert CODE.count("RunProfileErrors = @(Get-RunProfileError -Runs $newRuns)") == 2
    assert CODE.count("Before           = $beforeSummary") == 2
    assert CODE.count("Runs             = @(Get-RunSummary -Runs $newRuns)") == 2


def test_reports_one_line_of_json_with_every_status():
    assert "ConvertTo-Json -InputObject $report -Compress" in CODE
    statuses = set(re.findall(r"-Status '(\w+)'", CODE))
    assert statuses == {"completed", "check_mode", "staging_server", "busy_timeout", "start_timeout",
                        "cycle_timeout"}


# --- the role calling it ------------------------------------------------------------------


def test_the_role_runs_the_script_on_the_connect_server_with_its_parameters():
    tasks = yaml.safe_load((ROLE / "tasks" / "entra_connect_cycle.yml").read_text())
    [run] = [task for task in tasks if "ansible.windows.win_powershell" in task]
    call = run["ansible.windows.win_powershell"]
    assert (ROLE / "files" / call["path"]) == SCRIPT_PATH
    assert run["delegate_to"] == "{{ directory_sync_connect_server }}"
    assert run["register"] == "directory_sync_cycle_run"
    params = re.search(r"param\((.*?)\n\)", CODE, flags=re.DOTALL).group(1)
    declared = set(re.findall(r"\[(?:int|string)\]\$(\w+)", params))
    assert set(call["parameters"]) == declared


# --- the role parsing its report ----------------------------------------------------------

ROLE_VARS = {name: trust_as_template(value)
             for name, value in yaml.safe_load((ROLE / "vars" / "main.yml").read_text()).items()}


def judged(output) -> tuple[dict, str]:
    """The role's (directory_sync_cycle_report, directory_sync_cycle_refusal) for a win_powershell result."""
    registered = {"changed": True, "output": output, "error": [], "host_out": "", "result": {}}
    templar = Templar(loader=DataLoader(), variables=dict(ROLE_VARS, directory_sync_cycle_run=registered))
    return (templar.template(trust_as_template("{{ directory_sync_cycle_report }}")),
            templar.template(trust_as_template("{{ directory_sync_cycle_refusal }}")))


AD = "contoso.com"
AAD = "contoso.onmicrosoft.com - AAD"
# Each connector's newest run before the start: the old cycle's export ran last.
BEFORE = [{"connector": AD, "run_number": 540, "started": "2025-01-31T08:14:10"},
          {"connector": AAD, "run_number": 811, "started": "2025-01-31T08:14:31"}]


def run(connector: str, profile: str, number, started: str, result: str = "success") -> dict:
    return {"connector": connector, "run_profile": profile, "run_number": number, "result": result,
            "started": started}


# The new Delta cycle: import, sync and export on each connector.
NEW_RUNS = [run(AD, "Delta Import", 541, "2025-01-31T08:15:04"),
            run(AAD, "Delta Import", 812, "2025-01-31T08:15:20"),
            run(AD, "Delta Synchronization", 542, "2025-01-31T08:15:41"),
            run(AAD, "Delta Synchronization", 813, "2025-01-31T08:16:02"),
            run(AAD, "Export", 814, "2025-01-31T08:16:30")]


def report(status: str, message: str, errors=(), runs=None, before=None) -> str:
    """A report as the script's ConvertTo-Json -Compress writes it."""
    return json.dumps({"status": status, "message": message, "policy_type": "Delta", "computer": "AADC01",
                       "started": "2025-01-31T08:15:00", "finished": "2025-01-31T08:17:40",
                       "before": BEFORE if before is None else before,
                       "runs": NEW_RUNS if runs is None else runs,
                       "run_profile_errors": list(errors)}, separators=(",", ":"))


def test_a_completed_cycle_is_accepted():
    parsed, refusal = judged([report("completed", "the Delta cycle ran; 0 run profile result(s) reported errors")])
    assert parsed["status"] == "completed" and parsed["run_profile_errors"] == []
    assert refusal == ""


def test_a_staging_server_is_refused_with_its_message():
    parsed, refusal = judged([report("staging_server", "AADC02 is in staging mode: its sync cycles never export")])
    assert parsed["status"] == "staging_server"
    assert refusal == "staging_server: AADC02 is in staging mode: its sync cycles never export"


def test_run_profile_errors_are_reported_and_the_cycle_still_counts():
    error = {"connector": "contoso.onmicrosoft.com - AAD", "run_profile": "Export", "run_number": 814,
             "result": "completed-export-errors", "started": "2025-01-31T08:16:02", "finished": "2025-01-31T08:16:40",
             "stage_failures": 0, "flow_failures": 0, "export_failures": 2}
    runs = [*NEW_RUNS[:-1], run(AAD, "Export", 814, "2025-01-31T08:16:02", "completed-export-errors")]
    parsed, refusal = judged(["ADSync module loaded", report("completed", "1 run profile result(s) reported errors",
                                                             [error], runs=runs)])
    assert refusal == ""
    assert parsed["run_profile_errors"] == [error]


@pytest.mark.parametrize("status", ["busy_timeout", "start_timeout", "cycle_timeout"])
def test_a_wait_that_ran_out_is_refused(status):
    _parsed, refusal = judged([report(status, "the Delta cycle was still running after 3600 s")])
    assert refusal.startswith(f"{status}: ")


def test_the_old_cycles_last_run_taken_for_the_new_ones_is_refused():
    # The busy cycle's export (run 811 of the Entra connector) ended two seconds before the start:
    # a window of a few seconds around the start would have taken it for the new cycle's.
    old_export = run(AAD, "Export", 811, "2025-01-31T08:14:58")
    parsed, refusal = judged([report("completed", "the Delta cycle ran", runs=[old_export])])
    assert parsed["runs"] == [old_export]
    assert refusal == ("stale_run: run 811 (Export, started 2025-01-31T08:14:58) of contoso.onmicrosoft.com - AAD "
                       "is not newer than its run 811 (started 2025-01-31T08:14:31) before the start")
    # One stale run among new ones is enough.
    assert judged([report("completed", "ran", runs=[*NEW_RUNS, old_export])])[1].startswith("stale_run: run 811 ")


def test_without_run_numbers_the_start_times_decide():
    before = [{"connector": AD, "run_number": None, "started": "2025-01-31T08:14:10"}]
    newer = run(AD, "Delta Import", None, "2025-01-31T08:15:04")
    same = run(AD, "Export", None, "2025-01-31T08:14:10")
    assert judged([report("completed", "ran", runs=[newer], before=before)])[1] == ""
    assert judged([report("completed", "ran", runs=[newer, same], before=before)])[1].startswith(
        "stale_run: run None (Export, started 2025-01-31T08:14:10) of contoso.com")


def test_a_connector_without_runs_before_the_start_counts_its_runs():
    assert judged([report("completed", "ran", before=BEFORE[:1])])[1] == ""


def test_a_completed_report_without_new_runs_is_refused():
    refusal = judged([report("completed", "the Delta cycle ran", runs=[])])[1]
    assert refusal == "no_new_run: the report shows no run newer than those before Start-ADSyncSyncCycle"


def test_check_mode_is_accepted():
    assert judged([report("check_mode", "no cycle in progress; a Delta cycle would start now")])[1] == ""


def test_no_report_at_all_is_refused():
    assert judged([])[1] == "no_report: the Connect server wrote no report"
    assert judged([{"not": "a string"}])[1] == "no_report: the Connect server wrote no report"
