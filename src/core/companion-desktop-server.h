/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "companion-key-store.h"
#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_DESKTOP_SERVER_ERROR (companion_desktop_server_error_quark ())

typedef enum
{
  COMPANION_DESKTOP_SERVER_ERROR_LISTEN_FAILED,
  COMPANION_DESKTOP_SERVER_ERROR_NOT_PAIRED,
  COMPANION_DESKTOP_SERVER_ERROR_STATE,
  COMPANION_DESKTOP_SERVER_ERROR_IDENTITY_MISSING,
} CompanionDesktopServerError;

/* Limits before authentication (docs/protocol.md, "Limits"). */
#define COMPANION_MAX_UNAUTHENTICATED          8
#define COMPANION_MAX_UNAUTHENTICATED_PER_HOST 4
#define COMPANION_MAX_UNREAD                   64
#define COMPANION_MAX_UNREAD_PER_HOST          32
#define COMPANION_LISTEN_BACKLOG               256
#define COMPANION_OFFER_LIFETIME_MS            60000
#define COMPANION_RETIRED_OFFERS_KEPT          8

#define COMPANION_TYPE_DESKTOP_SERVER (companion_desktop_server_get_type ())

G_DECLARE_FINAL_TYPE (CompanionDesktopServer, companion_desktop_server,
                      COMPANION, DESKTOP_SERVER, GObject)

GQuark                  companion_desktop_server_error_quark   (void);

/* The desktop engine's network side: the WebSocket server, the rotating
 * pairing offer, the pairing handshake and the paired phone's sessions.
 * Signals: "offer-changed" (CompanionPairingOffer or NULL), "paired"
 * (phone name, safety code), "connected" (phone name), "disconnected"
 * (GError or NULL), "unlinked" (gboolean by_phone), "pairing-started" (a
 * phone holding the current code is proving its secret), "attempt-failed"
 * (GError: a refused or failed connection; the server goes on),
 * "session-record::TYPE" (type, JsonObject: a record of the paired phone's
 * session that this layer does not handle itself). */
CompanionDesktopServer *companion_desktop_server_new            (const char             *state_dir,
                                                                 CompanionKeyStore      *key_store,
                                                                 GError                **error);
/* ADDRESS NULL: all interfaces at the port used last time, else the
 * default port, else a free one. ADDRESS with port 0: that address at the
 * port used last time, else a free one. */
gboolean                companion_desktop_server_listen         (CompanionDesktopServer *self,
                                                                 GInetSocketAddress     *address,
                                                                 GError                **error);
guint16                 companion_desktop_server_get_port       (CompanionDesktopServer *self);
GPtrArray              *companion_desktop_server_dup_addresses  (CompanionDesktopServer *self);
CompanionPairingOffer  *companion_desktop_server_get_offer      (CompanionDesktopServer *self);
gint64                  companion_desktop_server_get_offer_expires_at (CompanionDesktopServer *self);
gboolean                companion_desktop_server_is_paired      (CompanionDesktopServer *self);
gboolean                companion_desktop_server_is_connected   (CompanionDesktopServer *self);
const char             *companion_desktop_server_get_phone_name (CompanionDesktopServer *self);
const char             *companion_desktop_server_get_safety_code (CompanionDesktopServer *self);
/* Sends a record to the connected phone; fails when it is not connected. */
gboolean                companion_desktop_server_send_record    (CompanionDesktopServer *self,
                                                                 JsonObject             *record,
                                                                 GError                **error);
/* Sends a binary chunk (companion_tunnel_send_chunk) to the connected phone. */
gboolean                companion_desktop_server_send_chunk     (CompanionDesktopServer *self,
                                                                 const guint8           *header,
                                                                 gsize                   header_len,
                                                                 const guint8           *data,
                                                                 gsize                   len,
                                                                 GError                **error);
gboolean                companion_desktop_server_unlink         (CompanionDesktopServer *self,
                                                                 GError                **error);
/* Unlinks without starting the engine: for a linked desktop whose key is
 * missing, which companion_desktop_server_new() refuses to open. */
gboolean                companion_desktop_server_unlink_offline (const char             *state_dir,
                                                                 CompanionKeyStore      *key_store,
                                                                 GError                **error);
void                    companion_desktop_server_set_offer_lifetime (CompanionDesktopServer *self,
                                                                     guint                   milliseconds);
/* For tests: the deadline for an unauthenticated connection's first message
 * and for the pairing confirmation (default COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS),
 * and how long a session may stay silent (default COMPANION_TUNNEL_IDLE_TIMEOUT_MS,
 * 0 disables it). Applies to connections accepted afterwards. */
void                    companion_desktop_server_set_timing     (CompanionDesktopServer *self,
                                                                 guint                   handshake_deadline_ms,
                                                                 guint                   idle_timeout_ms);

G_END_DECLS
