/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-session-protocol.h"

#include "test-handshake.h"

CompanionNoiseHandshake *
test_handshake_kk_initiator (const guint8 *local_secret,
                             const guint8 *remote_public)
{
  CompanionNoiseHandshake *handshake;
  g_autoptr(GBytes) prologue = companion_session_prologue ();
  g_autoptr(GError) error = NULL;

  handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_KK, COMPANION_NOISE_ROLE_INITIATOR, &error);
  g_assert_no_error (error);
  companion_noise_handshake_set_prologue (handshake, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (handshake, local_secret);
  companion_noise_handshake_set_remote_static (handshake, remote_public);
  return handshake;
}

CompanionNoiseHandshake *
test_handshake_pair_initiator (CompanionPairingPayload *payload,
                               const guint8            *local_secret,
                               const guint8            *psk)
{
  CompanionNoiseHandshake *handshake;
  g_autoptr(GBytes) prologue = companion_pairing_prologue (payload);
  g_autoptr(GError) error = NULL;

  handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_IKPSK2, COMPANION_NOISE_ROLE_INITIATOR, &error);
  g_assert_no_error (error);
  companion_noise_handshake_set_prologue (handshake, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (handshake, local_secret);
  companion_noise_handshake_set_remote_static (handshake, companion_pairing_payload_get_public_key (payload));
  companion_noise_handshake_set_psk (handshake, psk != NULL ? psk : companion_pairing_payload_get_psk (payload));
  return handshake;
}

GBytes *
test_handshake_write (CompanionNoiseHandshake *handshake,
                      const char              *payload)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  companion_noise_handshake_write_message (handshake, (const guint8 *) payload,
                                           payload != NULL ? strlen (payload) : 0, out, &error);
  g_assert_no_error (error);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

GBytes *
test_handshake_random_bytes (gsize len)
{
  guint8 *data = g_malloc (len);

  randombytes_buf (data, len);
  return g_bytes_new_take (data, len);
}
