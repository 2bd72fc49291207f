"""Print this machine's pip configuration for another root file system: where pip finds packages
(indexes, find-links), which certificate it trusts and which constraints it applies, so that pip
in a chroot installs from the same sources as pip here.

    python3 scripts/pip-sources.py /host

reads pip's configuration files ([global], then [install] over it) and the PIP_* variables
(over both), and prints one line per setting, tab-separated:

    env   PIP_FIND_LINKS=/host/opt/wheels
    bind  /opt

Every local path a value names (absolute, or a file:// URL) that exists is moved under the
prefix given (`env`), and the folders holding them are to be mounted there read-only (`bind`):
the folder, not the path, because a local index's pages link to files beside its simple/ folder.
Under the prefix, nothing of this machine lands on a path the other system's packages own.
"""

import configparser
import os
import sys


def config_files() -> list[str]:
    """pip's configuration files on Linux, lowest precedence first."""
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    files = [os.path.join(d, "pip", "pip.conf") for d in reversed(xdg_dirs.split(":"))]
    files += ["/etc/pip.conf", os.path.expanduser("~/.pip/pip.conf"),
              os.path.join(xdg_home, "pip", "pip.conf")]
    if "PIP_CONFIG_FILE" in os.environ:
        files.append(os.environ["PIP_CONFIG_FILE"])
    return files


def settings() -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read([f for f in config_files() if os.path.isfile(f)], encoding="utf-8")
    found = {}
    for section in ("global", "install"):
        if parser.has_section(section):
            for key, value in parser.items(section):
                found["PIP_" + key.upper().replace("-", "_")] = " ".join(value.split())
    found.update((k, v) for k, v in os.environ.items() if k.startswith("PIP_") and k != "PIP_CONFIG_FILE")
    return found


def main() -> None:
    prefix = sys.argv[1]
    binds = set()
    for name, value in sorted(settings().items()):
        tokens = []
        for token in value.split():
            scheme = "file://" if token.startswith("file://") else ""
            path = token[len(scheme):]
            if path.startswith("/") and os.path.exists(path):
                binds.add(os.path.dirname(os.path.normpath(path)))
                token = scheme + prefix + path
            tokens.append(token)
        print(f"env\t{name}={' '.join(tokens)}")
    for folder in sorted(binds):  # a folder inside another one mounted comes with it
        if not any(folder.startswith(os.path.join(outer, "")) for outer in binds):
            print(f"bind\t{folder}")


if __name__ == "__main__":
    main()
