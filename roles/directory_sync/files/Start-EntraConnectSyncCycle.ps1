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
- waits for the cycle to show and then to end, every wait bounded;
- collects the run profile results since the start that did not succeed.

The last output object is one JSON text:
{"status": "...", "message": "...", "policy_type": "Delta", "computer": "...",
 "started": "...", "finished": "...", "run_profile_errors": [...]}
status is one of: completed, check_mode, staging_server, busy_timeout, start_timeout,
cycle_timeout. The role parses it and decides.
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

# Run history times carry no zone; a few seconds of slack keeps a run that began with the cycle.
$ClockSlackSeconds = 5

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
        [object[]]$RunProfileErrors = @()
    )
    $report = [ordered]@{
        status             = $Status
        message            = $Message
        policy_type        = $PolicyType
        computer           = $env:COMPUTERNAME
        started            = Format-Time $Started
        finished           = Format-Time $Finished
        run_profile_errors = @($RunProfileErrors)
    }
    ConvertTo-Json -InputObject $report -Compress -Depth 6
}

function Test-SyncCycleInProgress {
    return [bool](Get-ADSyncScheduler).SyncCycleInProgress
}

function Get-RunSince {
    # The run profile results that began after $Since (UTC).
    param([DateTime]$Since)
    $threshold = $Since.AddSeconds(-$ClockSlackSeconds)
    @(Get-ADSyncRunProfileResult -NumberRequested 200 -RunStepDetails |
        Where-Object { $null -ne $_.StartDate -and [DateTime]$_.StartDate -ge $threshold })
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
while (-not (Test-SyncCycleInProgress) -and (Get-RunSince -Since $started).Count -eq 0) {
    if ([DateTime]::UtcNow -ge $deadline) {
        Write-Report -Status 'start_timeout' -Started $started -Message ("the $PolicyType cycle did not show " +
            "as running within $StartTimeoutSeconds s of Start-ADSyncSyncCycle")
        return
    }
    Start-Sleep -Seconds $PollSeconds
}

$deadline = $started.AddSeconds($CycleTimeoutSeconds)
while (Test-SyncCycleInProgress) {
    if ([DateTime]::UtcNow -ge $deadline) {
        $failedRuns = @(Get-RunProfileError -Runs (Get-RunSince -Since $started))
        Write-Report -Status 'cycle_timeout' -Started $started -RunProfileErrors $failedRuns -Message (
            "the $PolicyType cycle was still running after $CycleTimeoutSeconds s")
        return
    }
    Start-Sleep -Seconds $PollSeconds
}

$finished = [DateTime]::UtcNow
$failedRuns = @(Get-RunProfileError -Runs (Get-RunSince -Since $started))
Write-Report -Status 'completed' -Started $started -Finished $finished -RunProfileErrors $failedRuns -Message (
    "the $PolicyType cycle ran from $(Format-Time $started) to $(Format-Time $finished) UTC; " +
    "$($failedRuns.Count) run profile result(s) reported errors")
