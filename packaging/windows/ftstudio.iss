; Inno Setup 6 script of the Windows installer. Build dist\ftstudio first (build.ps1 does both):
;   ISCC.exe /DAppVersion=0.1.0 packaging\windows\ftstudio.iss
; Output: dist\ftstudio-<version>-windows-x64-setup.exe. Installs per user without admin rights
; (or for all users when run as administrator); no network use.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{5B0F7E52-3C1A-4F43-9E0B-6F3A0D2C8E11}
AppName=Fine-Tuning Studio
AppVersion={#AppVersion}
AppPublisher=ftstudio
AppComments=Fine-tune pretrained models on your own data, offline.
DefaultDirName={autopf}\ftstudio
DefaultGroupName=Fine-Tuning Studio
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=ftstudio-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\app.ico
UninstallDisplayIcon={app}\ftstudio.exe
Compression=lzma2/ultra64
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
; Signing (packaging\README.md): define a sign tool named "signtool" in the Inno Setup IDE
; (Tools > Configure Sign Tools) or with ISCC /S"signtool=signtool.exe sign /fd SHA256 ..."
; and uncomment:
; SignTool=signtool
; SignedUninstaller=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\ftstudio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Fine-Tuning Studio"; Filename: "{app}\ftstudio.exe"
Name: "{group}\Check the installation (self-test)"; Filename: "{cmd}"; Parameters: "/k ""{app}\ftstudio-cli.exe"" --self-test"; IconFilename: "{app}\ftstudio.exe"
Name: "{group}\{cm:UninstallProgram,Fine-Tuning Studio}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Fine-Tuning Studio"; Filename: "{app}\ftstudio.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\ftstudio.exe"; Description: "{cm:LaunchProgram,Fine-Tuning Studio}"; Flags: nowait postinstall skipifsilent
