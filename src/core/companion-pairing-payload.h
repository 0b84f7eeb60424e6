/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-types.h"

G_BEGIN_DECLS

/* The ASCII text a pairing QR code holds (docs/protocol.md, "Pairing payload"). */
#define COMPANION_PAIRING_PAYLOAD_VERSION       1
#define COMPANION_PAIRING_PAYLOAD_MAX_LENGTH    150
#define COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES 2
#define COMPANION_PAIRING_KEY_SIZE              32
#define COMPANION_PAIRING_PSK_SIZE              32

#define COMPANION_PAIRING_PAYLOAD_ERROR (companion_pairing_payload_error_quark ())

typedef enum
{
  COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION,
  COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION,
  COMPANION_PAIRING_PAYLOAD_ERROR_TOO_LONG,
  COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING,
  COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH,
  COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_KEY,
  COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
} CompanionPairingPayloadError;

#define COMPANION_TYPE_PAIRING_PAYLOAD (companion_pairing_payload_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPairingPayload, companion_pairing_payload,
                      COMPANION, PAIRING_PAYLOAD, GObject)

GQuark                   companion_pairing_payload_error_quark      (void);

CompanionPairingPayload *companion_pairing_payload_new              (const guint8 *public_key,
                                                                     const guint8 *psk,
                                                                     GPtrArray    *addresses,
                                                                     GError      **error);
CompanionPairingPayload *companion_pairing_payload_parse            (const char   *text,
                                                                     gsize         length,
                                                                     GError      **error);
char                    *companion_pairing_payload_to_string        (CompanionPairingPayload *self);
guint                    companion_pairing_payload_get_version      (CompanionPairingPayload *self);
const guint8            *companion_pairing_payload_get_public_key   (CompanionPairingPayload *self);
const guint8            *companion_pairing_payload_get_psk          (CompanionPairingPayload *self);
GPtrArray               *companion_pairing_payload_get_addresses    (CompanionPairingPayload *self);
char                    *companion_pairing_payload_dup_key_fingerprint (CompanionPairingPayload *self);
char                    *companion_pairing_payload_dup_psk_fingerprint (CompanionPairingPayload *self);
gsize                    companion_pairing_payload_encoded_length   (GPtrArray *addresses);
/* The first Companion code among scanned QR symbols (GBytes); the error
 * says why none of them is usable. */
CompanionPairingPayload *companion_pairing_payload_parse_scanned    (GPtrArray    *symbols,
                                                                     GError      **error);

G_END_DECLS
