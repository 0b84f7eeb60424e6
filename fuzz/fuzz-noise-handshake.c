/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Noise handshake (src/core/companion-noise.c) against a peer that
 * speaks in the fuzzer's words. Built twice: as responder and as initiator
 * (FUZZ_NOISE_ROLE). Both sides have fixed keys, ephemerals included (the
 * cacophony test vectors' keys), so every input reproduces exactly and the
 * vectors' transcripts are valid inputs.
 *
 * Input: pattern byte, then one step per message, alternating from the
 * initiator: flags byte, 2-byte length, bytes. For our own messages the bytes
 * are the payload we write. For the peer's, flags bit 0 set means the bytes
 * ARE the message; clear, an honest peer writes the bytes as its payload and
 * flags bit 1 then flips the message's byte at (flags >> 2). Steps after the
 * handshake are transport messages through the split ciphers. */
#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-noise.h"
#include "fuzz-input.h"

#ifndef FUZZ_NOISE_ROLE
#error "FUZZ_NOISE_ROLE must be COMPANION_NOISE_ROLE_INITIATOR or _RESPONDER"
#endif

#define MAX_STEPS 12

/* The cacophony vectors' prologue. */
static const char prologue[] = "John Galt";

static const CompanionNoisePattern patterns[] = {
  COMPANION_NOISE_PATTERN_NN, COMPANION_NOISE_PATTERN_KK, COMPANION_NOISE_PATTERN_IK,
  COMPANION_NOISE_PATTERN_XX, COMPANION_NOISE_PATTERN_IKPSK2, COMPANION_NOISE_PATTERN_KKPSK0,
  COMPANION_NOISE_PATTERN_KKPSK2,
};

/* A side with the keys PATTERN uses, and only those (a key the pattern does
 * not use is refused). */
static CompanionNoiseHandshake *
new_side (CompanionNoisePattern pattern,
          CompanionNoiseRole    role)
{
  const FuzzKeys *k = fuzz_keys ();
  gboolean initiator = role == COMPANION_NOISE_ROLE_INITIATOR;
  CompanionNoiseHandshake *hs = companion_noise_handshake_new (pattern, role, NULL);
  gboolean kk = pattern == COMPANION_NOISE_PATTERN_KK || pattern == COMPANION_NOISE_PATTERN_KKPSK0 ||
                pattern == COMPANION_NOISE_PATTERN_KKPSK2;
  gboolean ik = pattern == COMPANION_NOISE_PATTERN_IK || pattern == COMPANION_NOISE_PATTERN_IKPSK2;

  g_assert (hs != NULL);
  companion_noise_handshake_set_prologue (hs, (const guint8 *) prologue, strlen (prologue));
  companion_noise_handshake_set_fixed_ephemeral (hs, initiator ? k->init_ephemeral : k->resp_ephemeral);
  if (pattern != COMPANION_NOISE_PATTERN_NN)
    companion_noise_handshake_set_local_static (hs, initiator ? k->init_static : k->resp_static);
  if (kk || (ik && initiator))
    companion_noise_handshake_set_remote_static (hs, initiator ? k->resp_public : k->init_public);
  if (pattern == COMPANION_NOISE_PATTERN_IKPSK2 || pattern == COMPANION_NOISE_PATTERN_KKPSK0 ||
      pattern == COMPANION_NOISE_PATTERN_KKPSK2)
    companion_noise_handshake_set_psk (hs, k->psk);
  return hs;
}

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  CompanionNoiseRole role = FUZZ_NOISE_ROLE;
  CompanionNoiseRole peer_role = role == COMPANION_NOISE_ROLE_INITIATOR ? COMPANION_NOISE_ROLE_RESPONDER
                                                                        : COMPANION_NOISE_ROLE_INITIATOR;
  CompanionNoisePattern pattern;
  g_autoptr(CompanionNoiseHandshake) us = NULL;
  g_autoptr(CompanionNoiseHandshake) peer = NULL;
  g_autoptr(CompanionNoiseCipher) send = NULL, receive = NULL;
  g_autoptr(CompanionNoiseCipher) peer_send = NULL, peer_receive = NULL;
  gboolean peer_honest = TRUE;

  pattern = patterns[fuzz_input_byte (&in) % G_N_ELEMENTS (patterns)];
  us = new_side (pattern, role);
  peer = new_side (pattern, peer_role);

  for (guint step = 0; step < MAX_STEPS && in.left > 0; step++)
    {
      g_autoptr(GByteArray) message = g_byte_array_new ();
      g_autoptr(GByteArray) payload = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      guint8 flags = fuzz_input_byte (&in);
      gsize len;
      const guint8 *bytes = fuzz_input_piece (&in, &len);
      gboolean finished = send != NULL;
      gboolean ours = finished ? (step % 2 == 0) == (role == COMPANION_NOISE_ROLE_INITIATOR)
                               : companion_noise_handshake_is_my_turn (us);

      if (!finished && !ours && companion_noise_handshake_is_finished (us))
        break;

      if (ours)
        {
          /* Our message: the peer, while still in step, reads it. */
          gboolean ok = finished ? companion_noise_cipher_encrypt (send, bytes, len, message, &error)
                                 : companion_noise_handshake_write_message (us, bytes, len, message, &error);
          if (!ok)
            break;
          if (peer_honest)
            {
              g_autoptr(GByteArray) peer_payload = g_byte_array_new ();

              peer_honest = finished ? companion_noise_cipher_decrypt (peer_receive, message->data,
                                                                       message->len, peer_payload, NULL)
                                     : companion_noise_handshake_read_message (peer, message->data,
                                                                               message->len,
                                                                               peer_payload, NULL);
              g_assert (!peer_honest || (peer_payload->len == len &&
                                         (len == 0 || memcmp (peer_payload->data, bytes, len) == 0)));
            }
        }
      else
        {
          gboolean ok;

          if ((flags & 1) || !peer_honest)
            g_byte_array_append (message, bytes, len);
          else
            {
              g_assert (finished ? companion_noise_cipher_encrypt (peer_send, bytes, len, message, NULL)
                                 : companion_noise_handshake_write_message (peer, bytes, len, message, NULL));
              if ((flags & 2) && message->len > 0)
                message->data[(flags >> 2) % message->len] ^= 0x01;
            }
          ok = finished ? companion_noise_cipher_decrypt (receive, message->data, message->len, payload, &error)
                        : companion_noise_handshake_read_message (us, message->data, message->len, payload, &error);
          if (!ok)
            {
              /* Every refusal says why, in the Noise domain. */
              g_assert (error != NULL && error->domain == COMPANION_NOISE_ERROR);
              break;
            }
          g_assert (payload->len <= COMPANION_NOISE_MAX_PAYLOAD_LEN);
          /* A transport message with a flipped bit never authenticates. */
          g_assert (!(finished && peer_honest && !(flags & 1) && (flags & 2)));
          if (flags & 3)
            peer_honest = FALSE;
        }

      if (!finished && companion_noise_handshake_is_finished (us))
        {
          g_autoptr(GBytes) hash = companion_noise_handshake_get_handshake_hash (us);

          g_assert (hash != NULL && g_bytes_get_size (hash) == COMPANION_NOISE_HASH_LEN);
          g_assert (companion_noise_handshake_split (us, &send, &receive, NULL));
          if (peer_honest && companion_noise_handshake_is_finished (peer))
            g_assert (companion_noise_handshake_split (peer, &peer_send, &peer_receive, NULL));
          else
            peer_honest = FALSE;
        }
    }
  return 0;
}
