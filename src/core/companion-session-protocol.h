/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "companion-types.h"

G_BEGIN_DECLS

/* WebSocket paths on the desktop's listen port (docs/protocol.md). */
#define COMPANION_PATH_PAIR    "/companion/v1/pair"
#define COMPANION_PATH_SESSION "/companion/v1/session"

/* Limits on what the records of the pairing and session setup carry. */
#define COMPANION_MAX_NAME_LENGTH 64
#define COMPANION_MAX_ADDRESSES   4

#define COMPANION_PROTOCOL_ERROR (companion_protocol_error_quark ())

typedef enum
{
  COMPANION_PROTOCOL_ERROR_UNEXPECTED_RECORD,
  COMPANION_PROTOCOL_ERROR_MISSING_FIELD,
  COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
} CompanionProtocolError;

GQuark      companion_protocol_error_quark          (void);

/* "companion/1 pair" then BLAKE2b-256 of the QR text: binds the handshake to
 * one code and its version. */
GBytes     *companion_pairing_prologue              (CompanionPairingPayload *payload);
GBytes     *companion_session_prologue              (void);

JsonObject *companion_session_record_confirm        (const char   *phone_name);
char       *companion_session_record_parse_confirm  (JsonObject   *record,
                                                     GError      **error);
JsonObject *companion_session_record_welcome        (const guint8 *desktop_key,
                                                     const char   *desktop_name,
                                                     GPtrArray    *addresses);
gboolean    companion_session_record_parse_welcome  (JsonObject   *record,
                                                     guint8       *desktop_key_out,
                                                     char        **desktop_name_out,
                                                     GStrv        *addresses_out,
                                                     GError      **error);
JsonObject *companion_session_record_hello          (const char   *desktop_name,
                                                     GPtrArray    *addresses);
gboolean    companion_session_record_parse_hello    (JsonObject   *record,
                                                     char        **desktop_name_out,
                                                     GStrv        *addresses_out,
                                                     GError      **error);

G_END_DECLS
