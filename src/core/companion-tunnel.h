/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "companion-noise.h"

G_BEGIN_DECLS

#define COMPANION_TUNNEL_ERROR (companion_tunnel_error_quark ())

typedef enum
{
  COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
  COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
  COMPANION_TUNNEL_ERROR_DECRYPT_FAILED,
  COMPANION_TUNNEL_ERROR_TEXT_FRAME,
  COMPANION_TUNNEL_ERROR_FRAME_TOO_LARGE,
  COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
  COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
  COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT,
  COMPANION_TUNNEL_ERROR_REFUSED,
  COMPANION_TUNNEL_ERROR_CLOSED,
} CompanionTunnelError;

/* WebSocket close codes (docs/protocol.md). 4000–4999 carry an advisory,
 * unauthenticated reason from the desktop. */
typedef enum
{
  COMPANION_CLOSE_NORMAL            = 1000,
  COMPANION_CLOSE_HANDSHAKE_FAILED  = 4000,
  COMPANION_CLOSE_CODE_EXPIRED      = 4001,
  COMPANION_CLOSE_CODE_USED         = 4002,
  COMPANION_CLOSE_CODE_BUSY         = 4003,
  COMPANION_CLOSE_UNKNOWN_CODE      = 4004,
  COMPANION_CLOSE_HANDSHAKE_TIMEOUT = 4005,
  COMPANION_CLOSE_TOO_MANY          = 4006,
  COMPANION_CLOSE_PROTOCOL          = 4007,
  COMPANION_CLOSE_ALREADY_PAIRED    = 4010,
  COMPANION_CLOSE_NOT_PAIRED        = 4020,
  COMPANION_CLOSE_UNKNOWN_IDENTITY  = 4021,
  COMPANION_CLOSE_REPLACED          = 4022,
  COMPANION_CLOSE_UNLINKED          = 4030,
  COMPANION_CLOSE_IDLE              = 4040,
} CompanionCloseCode;

/* Limits (docs/protocol.md, "Limits"). */
#define COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT 512
#define COMPANION_TUNNEL_FRAME_LIMIT         COMPANION_NOISE_MAX_MESSAGE_LEN
#define COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS 10000
#define COMPANION_TUNNEL_REKEY_INTERVAL      (G_GUINT64_CONSTANT (1) << 20)
#define COMPANION_TUNNEL_PING_INTERVAL_MS    30000
#define COMPANION_TUNNEL_IDLE_TIMEOUT_MS     90000
/* A chunk message (kind 0x02): at most this much data and header, so the
 * Noise message stays under 65535 bytes with the tag. */
#define COMPANION_TUNNEL_CHUNK_MAX           (60 * 1024)
#define COMPANION_TUNNEL_CHUNK_HEADER_MAX    64
/* The JSON of one record: one Noise message less its kind byte. */
#define COMPANION_TUNNEL_RECORD_TEXT_MAX     (COMPANION_NOISE_MAX_PAYLOAD_LEN - 1)

typedef enum
{
  COMPANION_TUNNEL_STATE_HANDSHAKE,
  COMPANION_TUNNEL_STATE_ESTABLISHED,
  COMPANION_TUNNEL_STATE_CLOSED,
} CompanionTunnelState;

#define COMPANION_TYPE_TUNNEL (companion_tunnel_get_type ())

G_DECLARE_FINAL_TYPE (CompanionTunnel, companion_tunnel, COMPANION, TUNNEL, GObject)

GQuark                companion_tunnel_error_quark          (void);

/* Takes a reference on both. The side whose turn it is writes first when
 * started. Signals: "established", "record" (JsonObject), "chunk" (GBytes
 * header, GBytes data), "closed" (GError or NULL for a clean close). */
CompanionTunnel      *companion_tunnel_new                  (SoupWebsocketConnection *connection,
                                                             CompanionNoiseHandshake *handshake);
void                  companion_tunnel_start                (CompanionTunnel         *self);
CompanionTunnelState  companion_tunnel_get_state            (CompanionTunnel         *self);
gboolean              companion_tunnel_send_record          (CompanionTunnel         *self,
                                                             JsonObject              *record,
                                                             GError                 **error);
/* Sends TEXT, the JSON of one record (an object with a "type"), as it is:
 * for senders that assemble records from stored JSON. At most
 * COMPANION_TUNNEL_RECORD_TEXT_MAX bytes. */
gboolean              companion_tunnel_send_record_text     (CompanionTunnel         *self,
                                                             const char              *text,
                                                             gsize                    len,
                                                             GError                 **error);
/* Sends a binary chunk (kind 0x02: header length byte, HEADER, DATA) through
 * the same cipher as records. HEADER at most COMPANION_TUNNEL_CHUNK_HEADER_MAX
 * bytes, DATA at most COMPANION_TUNNEL_CHUNK_MAX. The receiver emits "chunk"
 * (GBytes header, GBytes data). libsoup queues without bound: the caller
 * keeps its own window of unacknowledged chunks. */
gboolean              companion_tunnel_send_chunk           (CompanionTunnel         *self,
                                                             const guint8            *header,
                                                             gsize                    header_len,
                                                             const guint8            *data,
                                                             gsize                    len,
                                                             GError                 **error);
/* Writes LEN bytes of a chunk's data to DATA (reads them from a file, say);
 * FALSE with ERROR set when it cannot. */
typedef gboolean (*CompanionTunnelChunkFill) (guint8   *data,
                                              gsize     len,
                                              gpointer  user_data,
                                              GError  **error);
/* As companion_tunnel_send_chunk(), with FILL writing the data straight
 * into the buffer it is encrypted in: no copy. When FILL fails nothing is
 * sent and its error is returned. */
gboolean              companion_tunnel_send_chunk_filled    (CompanionTunnel         *self,
                                                             const guint8            *header,
                                                             gsize                    header_len,
                                                             gsize                    len,
                                                             CompanionTunnelChunkFill fill,
                                                             gpointer                 user_data,
                                                             GError                 **error);
/* Sends a close record when established, then closes the WebSocket. */
void                  companion_tunnel_close                (CompanionTunnel         *self,
                                                             CompanionCloseCode       code,
                                                             const char              *reason);
GBytes               *companion_tunnel_get_remote_static    (CompanionTunnel         *self);
char                 *companion_tunnel_dup_safety_code      (CompanionTunnel         *self);
/* For tests: shorter timers and rekey interval. 0 disables a timer. */
void                  companion_tunnel_set_timing           (CompanionTunnel         *self,
                                                             guint                    handshake_deadline_ms,
                                                             guint                    ping_interval_ms,
                                                             guint                    idle_timeout_ms);
void                  companion_tunnel_set_rekey_interval   (CompanionTunnel         *self,
                                                             guint64                  interval);
guint64               companion_tunnel_get_messages_received (CompanionTunnel        *self);

/* The 6-digit code both sides show: BLAKE2b(handshake hash, personal
 * "pairing-sas-v1") as a little-endian integer mod 10^6. */
char                 *companion_safety_code_from_hash       (GBytes                  *handshake_hash);
/* A readable error for a close code the desktop sent (advisory). */
GError               *companion_tunnel_error_from_close     (gushort                  code,
                                                             const char              *reason);

G_END_DECLS
