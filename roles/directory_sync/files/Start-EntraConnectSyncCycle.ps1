#Requires -Version 5.1
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

<#
.SYNOPSIS
Runs one Microsoft Entra Connect sync cycle and reports it as one line of JSON.

.DESCRIPTION
Run by the hybrid.identity.directory_sync role through ansible.windows.win_powershell on the
Entra Connect server (rule book §7):
- refuses on a staging server, which never exports;
- waits while a sync cycle is in progress;
- starts the cycle (Start-ADSyncSyncCycle -PolicyType Delta, or Initial);
- notes, per connector, the newest run in the run history just before it starts the cycle;
- waits for the cycle to show and then to end, every wait bounded;
- takes as the cycle's runs only those newer than that note, and reports the ones that did
  not succeed.

The last output object is one JSON text:
{"status": "...", "message": "...", "policy_type": "Delta", "computer": "...",
 "started": "...", "finished": "...", "before": [...], "runs": [...], "run_profile_errors": [...]}
status is one of: completed, check_mode, staging_server, busy_timeout, start_timeout,
cycle_timeout. `before` holds each connector's newest run before the start, `runs` the runs
taken for the cycle's. The role parses it and decides.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidateSet('Delta', 'Initial')]
    [string]$PolicyType = 'Delta',

    [ValidateRange(1, 300)]
    [int]$PollSeconds = 10,

    [ValidateRange(0, 86400)]
    [int]$BusyTimeoutSeconds = 1800,

    [ValidateRange(1, 3600)]
    [int]$StartTimeoutSeconds = 120,

    [ValidateRange(1, 86400)]
    [int]$CycleTimeoutSeconds = 3600
)

$ErrorActionPreference = 'Stop'
Import-Module -Name ADSync
$Ansible.Changed = $false

# How many run history entries each read asks for. The snapshot and every later read ask for
# the same number, so an old run a later read returns was in the snapshot's read too.
$HistoryDepth = 200

function Format-Time {
    param($When)
    if ($null -eq $When) { return $null }
    return ([DateTime]$When).ToString('yyyy-MM-ddTHH:mm:ss')
}

function Write-Report {
    param(
        [string]$Status,
        [string]$Message,
        $Started = $null,
        $Finished = $null,
        [object[]]$Before = @(),
        [object[]]$Runs = @(),
        [object[]]$RunProfileErrors = @()
    )
    $report = [ordered]@{
        status             = $Status
        message            = $Message
        policy_type        = $PolicyType
        computer           = $env:COMPUTERNAME
        started            = Format-Time $Started
        finished           = Format-Time $Finished
        before             = @($Before)
        runs               = @($Runs)
        run_profile_errors = @($RunProfileErrors)
    }
    ConvertTo-Json -InputObject $report -Compress -Depth 6
}

function Test-SyncCycleInProgress {
    return [bool](Get-ADSyncScheduler).SyncCycleInProgress
}

function Get-RunSnapshot {
    # Per connector, its newest run before the start: the highest RunNumber and the latest StartDate.
    $snapshot = @{}
    foreach ($run in @(Get-ADSyncRunProfileResult -NumberRequested $HistoryDepth)) {
        $connector = [string]$run.ConnectorName
        $last = $snapshot[$connector]
        if ($null -eq $last) {
            $last = [ordered]@{ connector = $connector; run_number = $null; started = $null; start_date = $null }
            $snapshot[$connector] = $last
        }
        if ($null -ne $run.RunNumber -and ($null -eq $last.run_number -or [long]$run.RunNumber -gt $last.run_number)) {
            $last.run_number = [long]$run.RunNumber
        }
        if ($null -ne $run.StartDate -and ($null -eq $last.start_date -or [DateTime]$run.StartDate -gt $last.start_date)) {
            $last.start_date = [DateTime]$run.StartDate
            $last.started = Format-Time $run.StartDate
        }
    }
    return $snapshot
}

function Test-NewerRun {
    # True when $Run came after its connector's newest run in the snapshot: by RunNumber, the
    # connector's own sequence; by StartDate only when a RunNumber is missing. Both compare run
    # history with run history, never with a clock, so the zone of StartDate does not matter.
    param($Run, [hashtable]$Snapshot)
    $last = $Snapshot[[string]$Run.ConnectorName]
    if ($null -eq $last) {
        return $true    # the connector had no run before the start
    }
    if ($null -ne $Run.RunNumber -and $null -ne $last.run_number) {
        return [long]$Run.RunNumber -gt $last.run_number
    }
    if ($null -ne $Run.StartDate -and $null -ne $last.start_date) {
        return [DateTime]$Run.StartDate -gt $last.start_date
    }
    return $false       # nothing to compare: never take a run for the new cycle's on trust
}

function Get-NewRun {
    # The run profile results newer than the snapshot, with their steps when asked.
    param([hashtable]$Snapshot, [switch]$WithSteps)
    @(Get-ADSyncRunProfileResult -NumberRequested $HistoryDepth -RunStepDetails:$WithSteps |
        Where-Object { Test-NewerRun -Run $_ -Snapshot $Snapshot })
}

function Get-RunSummary {
    # What the report says of each run, for the role to check against the snapshot.
    param([object[]]$Runs)
    foreach ($run in $Runs) {
        [ordered]@{
            connector   = [string]$run.ConnectorName
            run_profile = [string]$run.RunProfileName
            run_number  = $run.RunNumber
            result      = [string]$run.Result
            started     = Format-Time $run.StartDate
        }
    }
}

function Get-SnapshotSummary {
    param([hashtable]$Snapshot)
    foreach ($last in $Snapshot.Values) {
        [ordered]@{ connector = $last.connector; run_number = $last.run_number; started = $last.started }
    }
}

function Get-StepCount {
    # The sum of one counter over a run's steps; a step without the counter adds nothing.
    param([object[]]$Steps, [string]$Counter)
    $sum = 0
    foreach ($step in $Steps) {
        if ($step.PSObject.Properties[$Counter]) { $sum += [int]$step.$Counter }
    }
    return $sum
}

function Get-RunProfileError {
    # Runs whose result is not 'success', or whose steps counted failures.
    param([object[]]$Runs)
    foreach ($run in $Runs) {
        $steps = @($run.RunStepResults | Where-Object { $null -ne $_ })
        $stageFailures = Get-StepCount -Steps $steps -Counter 'StageFailure'
        $flowFailures = Get-StepCount -Steps $steps -Counter 'FlowFailure'
        $exportFailures = Get-StepCount -Steps $steps -Counter 'ExportFailure'
        if ($run.Result -ne 'success' -or $stageFailures -or $flowFailures -or $exportFailures) {
            [ordered]@{
                connector       = [string]$run.ConnectorName
                run_profile     = [string]$run.RunProfileName
                run_number      = $run.RunNumber
                result          = [string]$run.Result
                started         = Format-Time $run.StartDate
                finished        = Format-Time $run.EndDate
                stage_failures  = [int]$stageFailures
                flow_failures   = [int]$flowFailures
                export_failures = [int]$exportFailures
            }
        }
    }
}

$scheduler = Get-ADSyncScheduler

# rule book §7: a staging server never exports, so a cycle there changes nothing in the cloud.
if ($scheduler.StagingModeEnabled) {
    Write-Report -Status 'staging_server' -Message ("$env:COMPUTERNAME is in staging mode: its sync cycles " +
        'never export to Microsoft Entra ID. Point directory_sync_connect_server at the active Connect server.')
    return
}

# rule book §7: start only when no cycle is in progress; wait for a running one to end first.
$deadline = [DateTime]::UtcNow.AddSeconds($BusyTimeoutSeconds)
while (Test-SyncCycleInProgress) {
    if ([DateTime]::UtcNow -ge $deadline) {
        Write-Report -Status 'busy_timeout' -Message ("a sync cycle was still in progress after " +
            "$BusyTimeoutSeconds s; no cycle was started")
        return
    }
    Start-Sleep -Seconds $PollSeconds
}

if (-not $PSCmdlet.ShouldProcess($env:COMPUTERNAME, "Start-ADSyncSyncCycle -PolicyType $PolicyType")) {
    Write-Report -Status 'check_mode' -Message "no cycle in progress; a $PolicyType cycle would start now"
    return
}

# The old cycle's last runs stay in the history: only runs newer than these count as the new cycle's.
$before = Get-RunSnapshot
$beforeSummary = @(Get-SnapshotSummary -Snapshot $before)
$started = [DateTime]::UtcNow
if ($PolicyType -eq 'Initial') {
    $null = Start-ADSyncSyncCycle -PolicyType Initial
}
else {
    $null = Start-ADSyncSyncCycle -PolicyType Delta
}
$Ansible.Changed = $true

# rule book §7: the cmdlet returns before the cycle shows; a short cycle may also be over
# between two polls, which its run history shows.
$deadline = $started.AddSeconds($StartTimeoutSeconds)
while (-not (Test-SyncCycleInProgress) -and (Get-NewRun -Snapshot $before).Count -eq 0) {
    if ([DateTime]::UtcNow -ge $deadline) {
        Write-Report -Status 'start_timeout' -Started $started -Before $beforeSummary -Message ("the $PolicyType " +
            "cycle did not show as running within $StartTimeoutSeconds s of Start-ADSyncSyncCycle")
        return
    }
    Start-Sleep -Seconds $PollSeconds
}

$deadline = $started.AddSeconds($CycleTimeoutSeconds)
while (Test-SyncCycleInProgress) {
    if ([DateTime]::UtcNow -ge $deadline) {
        $newRuns = @(Get-NewRun -Snapshot $before -WithSteps)
        $cycle = @{
            Started          = $started
            Before           = $beforeSummary
            Runs             = @(Get-RunSummary -Runs $newRuns)
            RunProfileErrors = @(Get-RunProfileError -Runs $newRuns)
        }
        Write-Report -Status 'cycle_timeout' @cycle -Message "the $PolicyType cycle was still running after $CycleTimeoutSeconds s"
        return
    }
    Start-Sleep -Seconds $PollSeconds
}

$finished = [DateTime]::UtcNow
$newRuns = @(Get-NewRun -Snapshot $before -WithSteps)
$cycle = @{
    Started          = $started
    Finished         = $finished
    Before           = $beforeSummary
    Runs             = @(Get-RunSummary -Runs $newRuns)
    RunProfileErrors = @(Get-RunProfileError -Runs $newRuns)
}
Write-Report -Status 'completed' @cycle -Message ("the $PolicyType cycle ran from $(Format-Time $started) to " +
    "$(Format-Time $finished) UTC in $($newRuns.Count) run(s); $($cycle.RunProfileErrors.Count) run profile " +
    "result(s) reported errors")
