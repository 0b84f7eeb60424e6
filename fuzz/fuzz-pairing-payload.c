/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The QR code's text (companion_pairing_payload_parse): anything is refused
 * with a pairing-payload error or parsed into a payload that writes back to
 * text parsing to the same keys and addresses. */
#include "config.h"

#include <string.h>

#include "companion-pairing-payload.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autoptr(CompanionPairingPayload) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *key_fp = NULL, *psk_fp = NULL;
  GPtrArray *a, *b;

  fuzz_init ();
  payload = companion_pairing_payload_parse ((const char *) data, size, &error);
  if (payload == NULL)
    {
      g_assert (error != NULL && error->domain == COMPANION_PAIRING_PAYLOAD_ERROR);
      g_assert (error->message != NULL && *error->message != '\0');
      return 0;
    }
  g_assert (size <= COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
  key_fp = companion_pairing_payload_dup_key_fingerprint (payload);
  psk_fp = companion_pairing_payload_dup_psk_fingerprint (payload);
  g_assert (key_fp != NULL && psk_fp != NULL);

  text = companion_pairing_payload_to_string (payload);
  again = companion_pairing_payload_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert (memcmp (companion_pairing_payload_get_public_key (payload),
                    companion_pairing_payload_get_public_key (again), COMPANION_PAIRING_KEY_SIZE) == 0);
  g_assert (memcmp (companion_pairing_payload_get_psk (payload),
                    companion_pairing_payload_get_psk (again), COMPANION_PAIRING_PSK_SIZE) == 0);
  a = companion_pairing_payload_get_addresses (payload);
  b = companion_pairing_payload_get_addresses (again);
  g_assert (a->len == b->len && a->len <= COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES);
  for (guint i = 0; i < a->len; i++)
    g_assert (g_str_equal (g_ptr_array_index (a, i), g_ptr_array_index (b, i)));
  return 0;
}
