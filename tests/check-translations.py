#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the translations against the sources as they are now.

1. Every file with translatable strings is listed in po/POTFILES.in, and every
   listed file exists.
2. Each language in po/LINGUAS compiles with `msgfmt --check`.
3. Each language translates every string that the sources have today: no
   missing, empty or fuzzy msgstr (the template is made afresh by xgettext).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKERS = re.compile(r'\b(?:N?C?_|g_dngettext|ngettext|g_dpgettext2)\s*\(|translatable="yes"|<summary>|<description>|^Name=|^Comment=', re.M)
SOURCE_DIRS = ['src', 'data']
SOURCE_ENDINGS = ('.c', '.h', '.ui', '.desktop.in', '.metainfo.xml.in', '.gschema.xml')
XGETTEXT_ARGS = ['--from-code=UTF-8', '--add-comments', '--keyword=_', '--keyword=N_',
                 '--keyword=C_:1c,2', '--keyword=NC_:1c,2', '--keyword=g_dngettext:2,3',
                 '--keyword=g_dpgettext2:2c,3']


def fail(problems):
    for problem in problems:
        print('not ok:', problem)
    print(f'{len(problems)} problem(s) found')
    sys.exit(1)


def listed_files(root):
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def files_with_strings(root):
    found = []
    for top in SOURCE_DIRS:
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if not name.endswith(SOURCE_ENDINGS):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as f:
                    if MARKERS.search(f.read()):
                        found.append(os.path.relpath(path, root))
    return sorted(found)


def unquote(lines):
    return ''.join(eval(line) for line in lines)  # PO strings are C-quoted literals


def parse_po(path):
    """Returns {(context, msgid): (msgstrs, fuzzy)} for the live entries."""
    entries = {}
    with open(path, encoding='utf-8') as f:
        blocks = f.read().split('\n\n')
    for block in blocks:
        lines = [l for l in block.strip().splitlines() if l and not l.startswith('#~')]
        fuzzy = any(l.startswith('#,') and 'fuzzy' in l for l in lines)
        fields, current = {}, None
        for line in lines:
            if line.startswith('#'):
                continue
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line)
            if m:
                current = m.group(1)
                fields[current] = [m.group(2)]
            elif line.startswith('"') and current:
                fields[current].append(line)
        if 'msgid' not in fields:
            continue
        msgid = unquote(fields['msgid'])
        if msgid == '':
            continue  # the header
        context = unquote(fields['msgctxt']) if 'msgctxt' in fields else None
        msgstrs = [unquote(v) for k, v in sorted(fields.items()) if k.startswith('msgstr')]
        entries[(context, msgid)] = (msgstrs, fuzzy)
    return entries


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
    problems = []

    listed = listed_files(root)
    for path in listed:
        if not os.path.exists(os.path.join(root, path)):
            problems.append(f'po/POTFILES.in lists {path}, which does not exist')
    for path in files_with_strings(root):
        if path not in listed and not path.endswith('.h'):
            problems.append(f'{path} has translatable strings but is not in po/POTFILES.in')

    if shutil.which('xgettext') is None or shutil.which('msgfmt') is None:
        print('# gettext tools are not installed')
        sys.exit(77)

    with open(os.path.join(root, 'po', 'LINGUAS'), encoding='utf-8') as f:
        languages = [l.strip() for l in f if l.strip() and not l.startswith('#')]
    for required in ('de', 'fr'):
        if required not in languages:
            problems.append(f'po/LINGUAS does not list {required}')

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'template.pot')
        run = subprocess.run(['xgettext', *XGETTEXT_ARGS, '--directory', root, '--output', pot,
                              *[p for p in listed if os.path.exists(os.path.join(root, p))]],
                             capture_output=True, text=True)
        if run.returncode != 0:
            fail(problems + [f'xgettext failed: {run.stderr.strip()}'])
        template = parse_po(pot)
        if len(template) < 10:
            problems.append(f'the template has only {len(template)} strings; xgettext missed files')

        for lang in languages:
            po = os.path.join(root, 'po', f'{lang}.po')
            check = subprocess.run(['msgfmt', '--check', '--output-file', os.devnull, po],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                problems.append(f'{lang}.po does not compile: {check.stderr.strip()}')
                continue
            translated = parse_po(po)
            for key in template:
                where = f'{lang}.po: “{key[1][:60]}”' + (f' (context {key[0]})' if key[0] else '')
                if key not in translated:
                    problems.append(f'{where} is missing')
                elif translated[key][1]:
                    problems.append(f'{where} is fuzzy')
                elif any(s.strip() == '' for s in translated[key][0]):
                    problems.append(f'{where} is not translated')
            print(f'# {lang}: {len(template)} strings checked')

    if problems:
        fail(problems)
    print('# every translation is complete')


if __name__ == '__main__':
    main()
