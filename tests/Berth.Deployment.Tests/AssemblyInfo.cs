// These tests drive Linux processes (nginx, podman, systemd-analyze, the linux-x64 binary) and Unix file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
