#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check that the app id, the command and the icon name agree everywhere.

Sources compared: the Flatpak manifest, the merged desktop entry, the merged
metainfo, the GSettings schema, the GResource prefix and the icon files. The
manifest must also be pinned (sha256 for archives, a full commit for git) and
parse cleanly with `flatpak-builder --show-manifest` (no WARNING on stderr:
flatpak-builder exits 0 even on unknown keys).

Exit status: 0 all good, 1 a mismatch, 77 (skip) when everything that could be
checked passed but flatpak-builder is not installed.

Usage:
  check-app-metadata.py --source-root DIR (--build-dir DIR | --desktop F --metainfo F)
                        [--app-id ID]
"""

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

BASE_APP_ID = "io.github.companiondesk.Companion"
COMMAND = "companion"
FINISH_ARGS = {
    "--share=network",
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
}
SKIP = 77


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, ok, what, detail=""):
        if ok:
            print(f"ok - {what}")
        else:
            self.failures += 1
            print(f"FAIL - {what}" + (f": {detail}" if detail else ""))
        return ok


def base_id_of(app_id):
    return app_id[: -len(".Devel")] if app_id.endswith(".Devel") else app_id


def id_to_path(app_id):
    return "/" + app_id.replace(".", "/")


def check_manifest(c, path, app_id):
    c.check(os.path.isfile(path), "Flatpak manifest exists", path)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as e:
            c.check(False, "Flatpak manifest is valid JSON", str(e))
            return

    manifest_id = manifest.get("id", manifest.get("app-id"))
    c.check(manifest_id == base_id_of(app_id), "manifest id matches the app id",
            f"{manifest_id!r} != {base_id_of(app_id)!r}")
    c.check(os.path.basename(path) == f"{manifest_id}.json",
            "manifest file is named after its id", os.path.basename(path))
    c.check(manifest.get("command") == COMMAND, "manifest command",
            repr(manifest.get("command")))
    finish = set(manifest.get("finish-args", []))
    c.check(finish == FINISH_ARGS, "manifest finish-args",
            f"extra {sorted(finish - FINISH_ARGS)}, missing {sorted(FINISH_ARGS - finish)}")

    def walk(modules):
        for module in modules:
            if isinstance(module, dict):
                yield module
                yield from walk(module.get("modules", []))

    for module in walk(manifest.get("modules", [])):
        name = module.get("name", "?")
        for source in module.get("sources", []):
            if not isinstance(source, dict):
                continue
            kind = source.get("type")
            if kind in ("archive", "file") and "url" in source:
                c.check(re.fullmatch(r"[0-9a-f]{64}", source.get("sha256", "")) is not None,
                        f"module {name}: {kind} source pinned by sha256", source.get("url"))
            elif kind == "git":
                c.check(re.fullmatch(r"[0-9a-f]{40}", source.get("commit", "")) is not None,
                        f"module {name}: git source pinned by commit", source.get("url"))


def check_desktop(c, path, app_id):
    c.check(os.path.basename(path) == f"{app_id}.desktop", "desktop file name",
            os.path.basename(path))
    if not c.check(os.path.isfile(path), "merged desktop file exists", path):
        return
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    if not c.check(parser.has_section("Desktop Entry"), "desktop file has [Desktop Entry]"):
        return
    entry = parser["Desktop Entry"]
    c.check(entry.get("Icon") == app_id, "desktop Icon is the app id", repr(entry.get("Icon")))
    exec_line = entry.get("Exec", "").split()
    c.check(bool(exec_line) and exec_line[0] == COMMAND, "desktop Exec runs the command",
            repr(entry.get("Exec")))


def check_metainfo(c, path, app_id):
    c.check(os.path.basename(path) == f"{app_id}.metainfo.xml", "metainfo file name",
            os.path.basename(path))
    if not c.check(os.path.isfile(path), "merged metainfo exists", path):
        return
    root = ET.parse(path).getroot()
    c.check(root.findtext("id") == app_id, "metainfo id is the app id",
            repr(root.findtext("id")))
    launchables = [e.text for e in root.findall("launchable") if e.get("type") == "desktop-id"]
    c.check(launchables == [f"{app_id}.desktop"], "metainfo launchable is the desktop file",
            repr(launchables))
    binaries = [e.text for e in root.findall("provides/binary")]
    c.check(COMMAND in binaries, "metainfo provides the command", repr(binaries))


def check_schema(c, source_root):
    path = os.path.join(source_root, "data", f"{BASE_APP_ID}.gschema.xml")
    if not c.check(os.path.isfile(path), "GSettings schema exists", path):
        return
    schemas = ET.parse(path).getroot().findall("schema")
    c.check(len(schemas) == 1, "one schema in the schema file", str(len(schemas)))
    for schema in schemas:
        c.check(schema.get("id") == BASE_APP_ID, "schema id is the app id",
                repr(schema.get("id")))
        c.check(schema.get("path") == id_to_path(BASE_APP_ID) + "/",
                "schema path follows the app id", repr(schema.get("path")))


def check_resources(c, source_root):
    path = os.path.join(source_root, "data", "companion.gresource.xml")
    if not c.check(os.path.isfile(path), "GResource description exists", path):
        return
    prefixes = [e.get("prefix") for e in ET.parse(path).getroot().findall("gresource")]
    c.check(prefixes == [id_to_path(BASE_APP_ID)], "GResource prefix follows the app id",
            repr(prefixes))


def check_icons(c, source_root):
    icon_root = os.path.join(source_root, "data", "icons", "hicolor")
    expected = {
        "scalable/apps": f"{BASE_APP_ID}.svg",
        "symbolic/apps": f"{BASE_APP_ID}-symbolic.svg",
    }
    for subdir, name in expected.items():
        folder = os.path.join(icon_root, subdir)
        found = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        c.check(found == [name], f"icons/hicolor/{subdir} holds exactly {name}", repr(found))
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            c.check(False, f"{name} is well-formed SVG", str(e))
            continue
        c.check(root.tag == "{http://www.w3.org/2000/svg}svg", f"{name} is an SVG", root.tag)
        images = [e for e in root.iter() if e.tag.endswith("}image")]
        c.check(not images, f"{name} embeds no raster image")
        hrefs = [v for e in root.iter() for k, v in e.attrib.items()
                 if k.endswith("href") and not v.startswith("#")]
        c.check(not hrefs, f"{name} has no external references", repr(hrefs))


def check_flatpak_builder(c, path):
    tool = shutil.which("flatpak-builder")
    if tool is None:
        print("# flatpak-builder not installed: --show-manifest not run")
        return False
    proc = subprocess.run([tool, "--show-manifest", path], capture_output=True, text=True,
                          timeout=30)
    c.check(proc.returncode == 0, "flatpak-builder --show-manifest exits 0",
            f"exit {proc.returncode}: {proc.stderr.strip()}")
    c.check("WARNING" not in proc.stderr, "flatpak-builder --show-manifest has no warning",
            proc.stderr.strip())
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--build-dir", help="the Meson build dir (finds data/<app id>.*)")
    parser.add_argument("--app-id", default=BASE_APP_ID,
                        help="the configured app id, .Devel included")
    parser.add_argument("--desktop", help="the merged desktop file")
    parser.add_argument("--metainfo", help="the merged metainfo file")
    args = parser.parse_args()

    if args.build_dir is None and (args.desktop is None or args.metainfo is None):
        parser.error("give --build-dir, or both --desktop and --metainfo")
    desktop = args.desktop or os.path.join(args.build_dir, "data", f"{args.app_id}.desktop")
    metainfo = args.metainfo or os.path.join(args.build_dir, "data",
                                             f"{args.app_id}.metainfo.xml")
    manifest = os.path.join(args.source_root, "flatpak", f"{BASE_APP_ID}.json")

    c = Checker()
    c.check(base_id_of(args.app_id) == BASE_APP_ID, "configured app id",
            f"{args.app_id!r} is neither {BASE_APP_ID} nor its .Devel flavour")
    check_manifest(c, manifest, args.app_id)
    check_desktop(c, desktop, args.app_id)
    check_metainfo(c, metainfo, args.app_id)
    check_schema(c, args.source_root)
    check_resources(c, args.source_root)
    check_icons(c, args.source_root)
    ran_builder = check_flatpak_builder(c, manifest)

    if c.failures:
        print(f"{c.failures} check(s) failed")
        return 1
    return 0 if ran_builder else SKIP


if __name__ == "__main__":
    sys.exit(main())
