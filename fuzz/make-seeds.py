#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpora in fuzz/corpus/TARGET/: small valid inputs for
each target, from the project's own test data (the cacophony Noise vectors,
the small fixture, docs/fixture.md) and, for the pairing payload and QR
PNG, from the project's own writer (fuzz-seed-writer of a fuzz build).

    fuzz/make-seeds.py [BUILD_DIR]      (default _build-fuzz)

Seeds are deterministic: writing them again changes nothing."""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, 'corpus')

# Index of each pattern in fuzz-noise-handshake.c's patterns[].
PATTERNS = ['NN', 'KK', 'IK', 'XX', 'IKpsk2', 'KKpsk0', 'KKpsk2']
HANDSHAKE_MESSAGES = {'XX': 3}


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), 'wb') as f:
        f.write(data)


def step(flags, data):
    return bytes([flags]) + struct.pack('>H', len(data)) + data


def noise_seeds():
    path = os.path.join(ROOT, 'tests', 'data', 'noise-vectors', 'cacophony.json')
    for vector in json.load(open(path))['vectors']:
        pattern = vector['protocol_name'].split('_')[1]
        index = PATTERNS.index(pattern)
        for target, ours in (('noise-responder', 1), ('noise-initiator', 0)):
            # The vector's transcript: the peer's messages as they are, our
            # payloads as the vector has them.
            seed = bytes([index])
            for i, message in enumerate(vector['messages']):
                if i % 2 == ours:
                    seed += step(0, bytes.fromhex(message['payload']))
                else:
                    seed += step(1, bytes.fromhex(message['ciphertext']))
            write(target, 'cacophony-' + pattern, seed)
            # An honest peer, and one that flips a bit of its second message.
            honest = bytes([index]) + b''.join(step(0, b'payload %d' % i) for i in range(6))
            write(target, 'honest-' + pattern, honest)
            flipped = bytes([index]) + b''.join(
                step(2 | (5 << 2) if i == 1 + (1 - ours) else 0, b'payload %d' % i) for i in range(4))
            write(target, 'flipped-' + pattern, flipped)


def fixture_records():
    fixture = json.load(open(os.path.join(ROOT, 'tests', 'data', 'fixture-small', 'fixture.json')))
    for section, entity in (('contacts', 'contact'), ('chats', 'chat'), ('messages', 'message'),
                            ('media', 'media'), ('calls', 'call')):
        for record in fixture.get(section, []):
            record = {k: v for k, v in record.items() if k != 'file'}
            yield entity, record


def record_seeds():
    seq = 0
    seen = set()
    for entity, record in fixture_records():
        seq += 1
        if entity in seen and entity != 'message':
            continue
        seen.add(entity)
        change = {'seq': seq, 'op': 'upsert', 'entity': entity, 'record': record}
        write('record', 'upsert-%s-%d' % (entity, seq), json.dumps(change, ensure_ascii=False))
    write('record', 'regress-entity-object', json.dumps({'entity': {}, 'record': {}}))
    write('record', 'delete-chat', json.dumps({'seq': 43, 'op': 'delete', 'entity': 'chat', 'id': 'ch-7'}))


def tunnel_seeds():
    def record(obj):
        return step(0, b'\x01' + json.dumps(obj, ensure_ascii=False).encode())

    changes = [{'seq': i + 1, 'op': 'upsert', 'entity': e, 'record': r}
               for i, (e, r) in enumerate(fixture_records()) if i < 6]
    header = bytes(32) + struct.pack('>Q', 0)
    write('tunnel-records', 'confirm-close', record({'type': 'confirm', 'name': 'Pixel 7'}) +
          record({'type': 'close', 'code': 1000}))
    write('tunnel-records', 'welcome', record({'type': 'welcome', 'key': 'AAAA', 'name': 'desk',
                                               'addresses': ['192.168.1.20:45123']}))
    write('tunnel-records', 'hello', record({'type': 'hello', 'name': 'desk', 'addresses': []}))
    write('tunnel-records', 'ping-pong', record({'type': 'ping'}) + record({'type': 'pong'}))
    write('tunnel-records', 'changes', record({'type': 'changes', 'changes': changes}))
    write('tunnel-records', 'snapshot', record({'type': 'snapshot', 'records': changes[:3]}) +
          record({'type': 'snapshot-end', 'seq': 3}))
    write('tunnel-records', 'chunks', step(0, b'\x02' + bytes([len(header)]) + header + b'media bytes') +
          step(0, b'\x02\x00') + record({'type': 'media-end', 'hash': '00' * 32, 'size': 11}))
    write('tunnel-records', 'forged', record({'type': 'ping'}) + step(1, bytes(40)))
    write('tunnel-records', 'text-frame', step(2, b'{"type":"ping"}'))
    write('tunnel-records', 'unknown-kind', step(0, b'\x07abc'))
    write('tunnel-records', 'data-after-close', record({'type': 'close'}) + record({'type': 'ping'}))
    # Findings kept as regressions: members that are objects where strings belong.
    write('tunnel-records', 'regress-type-object', record({'type': {}}))
    write('tunnel-records', 'regress-identity-object', record({'type': 'welcome', 'identity': {}}))


def media_seeds():
    def chunk(offset, length):
        return bytes([0x40]) + struct.pack('>QH', offset, length)

    size = 200000
    write('media-chunk', 'whole', struct.pack('>QQ', size, 0) + chunk(0, 61440) + chunk(61440, 61440) +
          chunk(122880, 61440) + chunk(184320, 15680))
    write('media-chunk', 'resumed', struct.pack('>QQ', size, 61440) + chunk(0, 100) + chunk(61440, 61440))
    write('media-chunk', 'out-of-order', struct.pack('>QQ', size, 0) + chunk(0, 10) + chunk(5, 10))
    write('media-chunk', 'too-long', struct.pack('>QQ', 100, 0) + chunk(0, 101))
    write('media-chunk', 'short-header', struct.pack('>QQ', 100, 0) + bytes([0x05]) + b'abcde' + b'\x00\x10')


def fixture_seeds():
    with open(os.path.join(ROOT, 'tests', 'data', 'fixture-small', 'fixture.json'), 'rb') as f:
        write('fixture', 'fixture-small.json', f.read())
    write('fixture', 'empty.json', '{"version": 1}')
    # The format line of docs/fixture.md, with empty arrays.
    write('fixture', 'docs-format.json', '{"version": 1,\n "contacts": [], "chats": [], "messages": [],'
                                          ' "media": [], "calls": []}')
    contact = {'id': 'c-1', 'name': 'Ana'}
    chat = {'id': 'ch-1', 'kind': 'direct', 'title': '', 'participants': ['c-1'], 'unread': 0,
            'pinned': False, 'muted': False, 'archived': False}
    write('fixture', 'unknown-chat.json', json.dumps(
        {'version': 1, 'contacts': [contact], 'chats': [chat]}))


def generator_seeds():
    for name, text in (('defaults', ''), ('all', 'chats=2,messages=10,media=1,calls=3,seed=7'),
                       ('seed-max', 'seed=4294967295'), ('limits', 'chats=100000,calls=1000000')):
        write('generator-spec', name, text)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '_build-fuzz')
    subprocess.run([os.path.join(build, 'fuzz', 'fuzz-seed-writer'), CORPUS], check=True)
    noise_seeds()
    record_seeds()
    tunnel_seeds()
    media_seeds()
    fixture_seeds()
    generator_seeds()


if __name__ == '__main__':
    main()
