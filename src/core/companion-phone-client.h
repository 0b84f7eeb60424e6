/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "companion-tunnel.h"
#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_PHONE_CLIENT (companion_phone_client_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPhoneClient, companion_phone_client,
                      COMPANION, PHONE_CLIENT, GObject)

/* The phone's network side: pairs from a scanned payload (IKpsk2), then
 * keeps a session to the paired desktop (KK), trying every address it knows
 * and reconnecting with backoff. Signals: "paired" (desktop name, safety
 * code), "connected" (desktop name), "disconnected" (GError or NULL),
 * "pairing-failed" (GError), "unlinked" (gboolean by_desktop),
 * "session-record::TYPE" (type, JsonObject: a record of the session that
 * this layer does not handle itself). */
CompanionPhoneClient *companion_phone_client_new              (const char              *state_dir,
                                                               const char              *phone_name,
                                                               GError                 **error);
void                  companion_phone_client_pair             (CompanionPhoneClient    *self,
                                                               CompanionPairingPayload *payload);
gboolean              companion_phone_client_connect          (CompanionPhoneClient    *self,
                                                               GError                 **error);
/* Sends a record to the connected desktop; fails when it is not connected. */
gboolean              companion_phone_client_send_record      (CompanionPhoneClient    *self,
                                                               JsonObject              *record,
                                                               GError                 **error);
/* Sends the JSON text of one record as it is (companion_tunnel_send_record_text). */
gboolean              companion_phone_client_send_record_text (CompanionPhoneClient    *self,
                                                               const char              *text,
                                                               gsize                    len,
                                                               GError                 **error);
/* Sends a binary chunk whose data FILL writes in place
 * (companion_tunnel_send_chunk_filled) in the session. */
gboolean              companion_phone_client_send_chunk_filled (CompanionPhoneClient    *self,
                                                                const guint8            *header,
                                                                gsize                    header_len,
                                                                gsize                    len,
                                                                CompanionTunnelChunkFill fill,
                                                                gpointer                 user_data,
                                                                GError                 **error);
gboolean              companion_phone_client_unlink           (CompanionPhoneClient    *self,
                                                               GError                 **error);
void                  companion_phone_client_stop             (CompanionPhoneClient    *self);
/* Simulates losing and regaining the network: offline (FALSE) closes the
 * session (emitting "disconnected" if it was up) and stops reconnecting;
 * online (TRUE) connects again at once. A pairing under way is not
 * interrupted, but its session waits until the client is online. */
void                  companion_phone_client_set_online       (CompanionPhoneClient    *self,
                                                               gboolean                 online);
gboolean              companion_phone_client_is_paired        (CompanionPhoneClient    *self);
gboolean              companion_phone_client_is_connected     (CompanionPhoneClient    *self);
const char           *companion_phone_client_get_desktop_name (CompanionPhoneClient    *self);
const char           *companion_phone_client_get_safety_code  (CompanionPhoneClient    *self);
/* For tests: keepalive timing and the first and longest retry delays. */
void                  companion_phone_client_set_timing       (CompanionPhoneClient    *self,
                                                               guint                    ping_interval_ms,
                                                               guint                    idle_timeout_ms,
                                                               guint                    first_retry_ms,
                                                               guint                    max_retry_ms);

G_END_DECLS
