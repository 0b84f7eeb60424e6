/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-desktop-server"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "companion-desktop-server.h"
#include "companion-identity.h"
#include "companion-network.h"
#include "companion-noise.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-pairing-record.h"
#include "companion-session-protocol.h"
#include "companion-tunnel.h"

/* A connection that has not sent its first handshake message yet. */
typedef struct
{
  CompanionDesktopServer  *server;
  SoupWebsocketConnection *connection;
  char                    *host;
  gboolean                 pairing;
  guint                    deadline_id;
} Pending;

/* A connection whose HTTP request has not been read whole yet (libsoup
 * waits for it without a deadline). MESSAGE is not referenced: a weak
 * pointer, cleared when libsoup drops it. */
typedef struct
{
  CompanionDesktopServer *server;
  SoupServerMessage      *message;
  char                   *host;
  guint                   deadline_id;
} Unread;

/* A pairing code shown earlier, kept only to say why it is refused. */
typedef struct
{
  CompanionPairingOffer *offer;
  gboolean               used;
} RetiredOffer;

struct _CompanionDesktopServer
{
  GObject                 parent_instance;

  char                   *state_dir;
  CompanionKeyStore      *key_store;
  CompanionIdentity      *identity;
  CompanionPairingRecord *record;     /* the phone (when paired) and the denylist */

  SoupServer             *soup_server;
  guint16                 port;
  GInetAddress           *bound_address; /* NULL when on all interfaces */

  CompanionPairingOffer  *offer;
  gint64                  offer_expires_at;
  guint                   offer_lifetime_ms;
  guint                   offer_timer_id;
  GPtrArray              *retired;    /* RetiredOffer, oldest first */

  GQueue                  pending;    /* Pending, oldest first */
  GQueue                  unread;     /* Unread, oldest first */
  CompanionTunnel        *pairing_tunnel;
  CompanionPairingOffer  *pairing_offer;
  guint                   confirm_timer_id;
  CompanionTunnel        *session;
  CompanionTunnel        *challenger; /* a newer session, until it proves itself */
  guint                   challenger_timer_id;
  char                   *safety_code;

  guint                   handshake_deadline_ms;
  guint                   idle_timeout_ms;
};

G_DEFINE_FINAL_TYPE (CompanionDesktopServer, companion_desktop_server, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-desktop-server-error-quark, companion_desktop_server_error)

enum {
  SIGNAL_OFFER_CHANGED,
  SIGNAL_PAIRED,
  SIGNAL_CONNECTED,
  SIGNAL_DISCONNECTED,
  SIGNAL_UNLINKED,
  SIGNAL_ATTEMPT_FAILED,
  SIGNAL_PAIRING_STARTED,
  SIGNAL_SESSION_RECORD,
  SIGNAL_SESSION_CHUNK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void start_offers (CompanionDesktopServer *self);
static void stop_offers  (CompanionDesktopServer *self);

static void
retired_offer_free (RetiredOffer *retired)
{
  g_clear_object (&retired->offer);
  g_free (retired);
}

static void
report_failure (CompanionDesktopServer *self,
                GError                 *error)
{
  g_debug ("Connection refused or failed: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_ATTEMPT_FAILED], 0, error);
  g_error_free (error);
}

static void
refuse (CompanionDesktopServer  *self,
        SoupWebsocketConnection *connection,
        CompanionCloseCode       code,
        const char              *reason)
{
  if (soup_websocket_connection_get_state (connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (connection, code, reason);
  report_failure (self, companion_tunnel_error_from_close (code, reason));
}

/* A first message that authenticated but carried data: nothing may be said
 * before authentication (the tunnel refuses later messages the same way).
 * Said apart from an unknown code or identity, which it is not. */
static void
refuse_handshake_payload (CompanionDesktopServer  *self,
                          SoupWebsocketConnection *connection)
{
  if (soup_websocket_connection_get_state (connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (connection, COMPANION_CLOSE_PROTOCOL, "handshake payload");
  report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                                             "The phone put data in a handshake message"));
}

static gboolean
is_paired (CompanionDesktopServer *self)
{
  return companion_pairing_record_has_peer (self->record);
}

/* ---- pending connections ---------------------------------------------- */

static void
pending_free (Pending *pending)
{
  g_clear_handle_id (&pending->deadline_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (pending->connection, pending);
  g_clear_object (&pending->connection);
  g_free (pending->host);
  g_free (pending);
}

static void
pending_drop (Pending *pending)
{
  g_queue_remove (&pending->server->pending, pending);
  pending_free (pending);
}

static gboolean
on_pending_deadline (gpointer user_data)
{
  Pending *pending = user_data;
  CompanionDesktopServer *self = pending->server;
  g_autoptr(SoupWebsocketConnection) connection = g_object_ref (pending->connection);

  pending->deadline_id = 0;
  pending_drop (pending);
  refuse (self, connection, COMPANION_CLOSE_HANDSHAKE_TIMEOUT, "handshake timeout");
  return G_SOURCE_REMOVE;
}

static void
on_pending_closed (SoupWebsocketConnection *connection,
                   gpointer                 user_data)
{
  pending_drop (user_data);
}

static void
on_pending_error (SoupWebsocketConnection *connection,
                  GError                  *error,
                  gpointer                 user_data)
{
  Pending *pending = user_data;
  CompanionDesktopServer *self = pending->server;

  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    report_failure (self, g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_FRAME_TOO_LARGE,
                                       "A connection from %s sent a frame larger than %u bytes "
                                       "before authenticating", pending->host,
                                       COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT));
}

static void
handle_pair_message (CompanionDesktopServer  *self,
                     SoupWebsocketConnection *connection,
                     GBytes                  *message);
static void
handle_session_message (CompanionDesktopServer  *self,
                        SoupWebsocketConnection *connection,
                        GBytes                  *message);

static void
on_pending_message (SoupWebsocketConnection *connection,
                    int                      type,
                    GBytes                  *message,
                    gpointer                 user_data)
{
  Pending *pending = user_data;
  CompanionDesktopServer *self = pending->server;
  gboolean pairing = pending->pairing;
  g_autoptr(SoupWebsocketConnection) held = g_object_ref (connection);

  pending_drop (pending);

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      soup_websocket_connection_close (connection, COMPANION_CLOSE_PROTOCOL, "text frame");
      report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_TEXT_FRAME,
                                                 "A connection sent a text frame instead of a handshake"));
      return;
    }

  if (pairing)
    handle_pair_message (self, connection, message);
  else
    handle_session_message (self, connection, message);
}

/* Admits a new unauthenticated connection, evicting the oldest one (from
 * the same host first) when a cap is reached, so a flood cannot lock the
 * paired phone out. */
static void
admit (CompanionDesktopServer  *self,
       SoupWebsocketConnection *connection,
       const char              *host,
       gboolean                 pairing)
{
  Pending *pending;
  guint from_host = 0;

  for (GList *l = self->pending.head; l != NULL; l = l->next)
    if (g_strcmp0 (((Pending *) l->data)->host, host) == 0)
      from_host++;

  if (from_host >= COMPANION_MAX_UNAUTHENTICATED_PER_HOST || self->pending.length >= COMPANION_MAX_UNAUTHENTICATED)
    {
      Pending *victim = NULL;

      for (GList *l = self->pending.head; l != NULL && victim == NULL; l = l->next)
        if (from_host < COMPANION_MAX_UNAUTHENTICATED_PER_HOST ||
            g_strcmp0 (((Pending *) l->data)->host, host) == 0)
          victim = l->data;
      if (victim != NULL)
        {
          g_autoptr(SoupWebsocketConnection) old = g_object_ref (victim->connection);
          pending_drop (victim);
          refuse (self, old, COMPANION_CLOSE_TOO_MANY, "too many connections");
        }
    }

  pending = g_new0 (Pending, 1);
  pending->server = self;
  pending->connection = g_object_ref (connection);
  pending->host = g_strdup (host);
  pending->pairing = pairing;
  pending->deadline_id = g_timeout_add (self->handshake_deadline_ms, on_pending_deadline, pending);
  soup_websocket_connection_set_max_incoming_payload_size (connection, COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT);
  soup_websocket_connection_set_keepalive_interval (connection, 0);
  g_signal_connect (connection, "message", G_CALLBACK (on_pending_message), pending);
  g_signal_connect (connection, "closed", G_CALLBACK (on_pending_closed), pending);
  g_signal_connect (connection, "error", G_CALLBACK (on_pending_error), pending);
  g_queue_push_tail (&self->pending, pending);
}

/* ---- requests not read yet ------------------------------------------------- */

static void
unread_free (Unread *unread)
{
  g_clear_handle_id (&unread->deadline_id, g_source_remove);
  if (unread->message != NULL)
    {
      g_signal_handlers_disconnect_by_data (unread->message, unread);
      g_object_remove_weak_pointer (G_OBJECT (unread->message), (gpointer *) &unread->message);
    }
  g_free (unread->host);
  g_free (unread);
}

static void
unread_drop (Unread *unread)
{
  g_queue_remove (&unread->server->unread, unread);
  unread_free (unread);
}

/* Ends the connection under libsoup's feet: a shutdown, not a close, so
 * libsoup reads the end of the stream and cleans up as for any peer that
 * left. */
static void
unread_cut (Unread *unread)
{
  GSocket *socket = unread->message != NULL ? soup_server_message_get_socket (unread->message) : NULL;

  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

static gboolean
on_unread_deadline (gpointer user_data)
{
  Unread *unread = user_data;
  CompanionDesktopServer *self = unread->server;

  unread->deadline_id = 0;
  unread_cut (unread);
  unread_drop (unread);
  report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
                                             "A connection did not send its request in time"));
  return G_SOURCE_REMOVE;
}

static void
on_unread_done (SoupServerMessage *message,
                gpointer           user_data)
{
  unread_drop (user_data);
}

/* Every connection starts here, before a byte is read: each gets the
 * handshake deadline to send its whole request, and at most
 * COMPANION_MAX_UNREAD wait at once, the oldest cut first, so half-sent
 * requests (slowloris) can neither pile up nor use up the descriptors. */
static void
on_request_started (SoupServer        *server,
                    SoupServerMessage *message,
                    gpointer           user_data)
{
  CompanionDesktopServer *self = user_data;
  const char *host = soup_server_message_get_remote_host (message);
  Unread *unread;
  guint from_host = 0;

  for (GList *l = self->unread.head; l != NULL; l = l->next)
    if (g_strcmp0 (((Unread *) l->data)->host, host) == 0)
      from_host++;

  /* As for upgraded connections: the flooding address pays first. */
  if (from_host >= COMPANION_MAX_UNREAD_PER_HOST || self->unread.length >= COMPANION_MAX_UNREAD)
    {
      Unread *oldest = NULL;

      for (GList *l = self->unread.head; l != NULL && oldest == NULL; l = l->next)
        if (from_host < COMPANION_MAX_UNREAD_PER_HOST || g_strcmp0 (((Unread *) l->data)->host, host) == 0)
          oldest = l->data;
      unread_cut (oldest);
      unread_drop (oldest);
      report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED,
                                                 "Too many connections were sending their request"));
    }

  unread = g_new0 (Unread, 1);
  unread->server = self;
  unread->message = message;
  unread->host = g_strdup (host);
  g_object_add_weak_pointer (G_OBJECT (message), (gpointer *) &unread->message);
  g_signal_connect (message, "got-headers", G_CALLBACK (on_unread_done), unread);
  g_signal_connect (message, "finished", G_CALLBACK (on_unread_done), unread);
  g_signal_connect (message, "disconnected", G_CALLBACK (on_unread_done), unread);
  unread->deadline_id = g_timeout_add (self->handshake_deadline_ms, on_unread_deadline, unread);
  g_queue_push_tail (&self->unread, unread);
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *message,
              const char              *path,
              SoupWebsocketConnection *connection,
              gpointer                 user_data)
{
  CompanionDesktopServer *self = user_data;
  const char *host = soup_server_message_get_remote_host (message);

  admit (self, connection, host != NULL ? host : "?", g_str_equal (path, COMPANION_PATH_PAIR));
}

/* ---- pairing ----------------------------------------------------------- */

/* The responder's handshake when MESSAGE opens with OFFER's keys and has an
 * empty payload; else NULL, with *SPOKE set when it opened but carried data. */
static CompanionNoiseHandshake *
try_offer (CompanionPairingOffer *offer,
           GBytes                *message,
           gboolean              *spoke)
{
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GBytes) prologue = NULL;
  CompanionPairingPayload *published = companion_pairing_offer_get_payload (offer);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_IKPSK2,
                                             COMPANION_NOISE_ROLE_RESPONDER, NULL);
  prologue = companion_pairing_prologue (published);
  companion_noise_handshake_set_prologue (handshake, g_bytes_get_data (prologue, NULL),
                                          g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (handshake, companion_pairing_offer_get_secret_key (offer));
  companion_noise_handshake_set_psk (handshake, companion_pairing_payload_get_psk (published));
  if (!companion_noise_handshake_read_message (handshake, data, len, payload, NULL))
    return NULL;
  if (payload->len != 0)
    {
      *spoke = TRUE;
      return NULL;
    }
  return g_steal_pointer (&handshake);
}

static void
retire_offer (CompanionDesktopServer *self,
              CompanionPairingOffer  *offer,
              gboolean                used)
{
  RetiredOffer *retired;

  /* A code that rotated out while its handshake went on is retired already:
   * mark it used rather than list it twice (the first entry, "expired",
   * would be the answer to a replay). */
  for (guint i = 0; i < self->retired->len; i++)
    {
      RetiredOffer *known = g_ptr_array_index (self->retired, i);

      if (known->offer == offer)
        {
          known->used |= used;
          return;
        }
    }

  retired = g_new0 (RetiredOffer, 1);
  retired->offer = g_object_ref (offer);
  retired->used = used;
  g_ptr_array_add (self->retired, retired);
  if (self->retired->len > COMPANION_RETIRED_OFFERS_KEPT)
    g_ptr_array_remove_index (self->retired, 0);
}

static void
clear_pairing_tunnel (CompanionDesktopServer *self)
{
  g_clear_handle_id (&self->confirm_timer_id, g_source_remove);
  if (self->pairing_tunnel != NULL)
    g_signal_handlers_disconnect_by_data (self->pairing_tunnel, self);
  g_clear_object (&self->pairing_tunnel);
  g_clear_object (&self->pairing_offer);
}

static void
commit_pairing (CompanionDesktopServer *self,
                const char             *phone_name)
{
  g_autoptr(CompanionTunnel) tunnel = g_object_ref (self->pairing_tunnel);
  g_autoptr(CompanionPairingOffer) offer = g_object_ref (self->pairing_offer);
  g_autoptr(JsonObject) welcome = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *phone_key = companion_tunnel_get_remote_static (tunnel);

  clear_pairing_tunnel (self);

  if (!companion_pairing_record_set_peer (self->record, g_bytes_get_data (phone_key, NULL), phone_name,
                                          g_get_real_time () / G_USEC_PER_SEC, &error) ||
      !companion_pairing_record_save (self->record, self->state_dir, &error))
    {
      companion_pairing_record_unlink (self->record);
      companion_pairing_record_undeny (self->record, g_bytes_get_data (phone_key, NULL));
      companion_tunnel_close (tunnel, COMPANION_CLOSE_PROTOCOL, "could not save");
      report_failure (self, g_steal_pointer (&error));
      return;
    }

  /* The code is used up whatever happens next. A newer code shown since it
   * rotated out mid-handshake is withdrawn too: no code while paired
   * ("offer-changed" says NULL below). */
  retire_offer (self, offer, TRUE);
  if (self->offer != NULL && self->offer != offer)
    retire_offer (self, self->offer, FALSE);
  g_clear_object (&self->offer);
  stop_offers (self);

  g_free (self->safety_code);
  self->safety_code = companion_tunnel_dup_safety_code (tunnel);

  addresses = companion_desktop_server_dup_addresses (self);
  welcome = companion_session_record_welcome (companion_identity_get_public_key (self->identity),
                                              g_get_host_name (), addresses);
  if (!companion_tunnel_send_record (tunnel, welcome, &error))
    g_debug ("Could not send the welcome: %s", error->message);
  /* The phone reconnects with KK, which proves this desktop's identity. */
  companion_tunnel_close (tunnel, COMPANION_CLOSE_NORMAL, "paired");

  g_signal_emit (self, signals[SIGNAL_OFFER_CHANGED], 0, NULL);
  g_signal_emit (self, signals[SIGNAL_PAIRED], 0, phone_name, self->safety_code);
}

static void
on_pairing_record (CompanionTunnel        *tunnel,
                   JsonObject             *record,
                   CompanionDesktopServer *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  /* The first record proves the phone knew the secret: only now commit. */
  name = companion_session_record_parse_confirm (record, &error);
  if (name == NULL)
    {
      companion_tunnel_close (tunnel, COMPANION_CLOSE_PROTOCOL, "expected confirm");
      clear_pairing_tunnel (self);
      report_failure (self, g_steal_pointer (&error));
      return;
    }
  commit_pairing (self, name);
}

static void
on_pairing_closed (CompanionTunnel        *tunnel,
                   GError                 *error,
                   CompanionDesktopServer *self)
{
  clear_pairing_tunnel (self);
  /* What the desktop knows is that no confirmation came. The phone's close
   * code (a REFUSED error worded for the phone, e.g. when its handshake
   * failed on a wrong psk) is only an unauthenticated hint: give it as the
   * detail, not as the error. The tunnel's own errors keep their code. */
  report_failure (self, g_error_new (COMPANION_TUNNEL_ERROR,
                                     error != NULL && error->code != COMPANION_TUNNEL_ERROR_REFUSED
                                       ? error->code : COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                                     "The phone did not confirm the pairing (a wrong pairing secret?)%s%s",
                                     error != NULL ? ": " : "", error != NULL ? error->message : ""));
}

static gboolean
on_confirm_deadline (gpointer user_data)
{
  CompanionDesktopServer *self = user_data;
  g_autoptr(CompanionTunnel) tunnel = g_object_ref (self->pairing_tunnel);

  self->confirm_timer_id = 0;
  clear_pairing_tunnel (self);
  companion_tunnel_close (tunnel, COMPANION_CLOSE_HANDSHAKE_TIMEOUT, "no confirmation");
  report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
                                             "The phone did not confirm the pairing in time "
                                             "(a wrong pairing secret?)"));
  return G_SOURCE_REMOVE;
}

static void
handle_pair_message (CompanionDesktopServer  *self,
                     SoupWebsocketConnection *connection,
                     GBytes                  *message)
{
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GBytes) phone_key = NULL;
  gboolean spoke = FALSE;

  if (is_paired (self))
    {
      refuse (self, connection, COMPANION_CLOSE_ALREADY_PAIRED, "already paired");
      return;
    }

  if (self->offer != NULL)
    handshake = try_offer (self->offer, message, &spoke);
  if (spoke)
    {
      refuse_handshake_payload (self, connection);
      return;
    }
  if (handshake == NULL)
    {
      for (guint i = 0; i < self->retired->len; i++)
        {
          RetiredOffer *retired = g_ptr_array_index (self->retired, i);
          gboolean old_spoke = FALSE;
          g_autoptr(CompanionNoiseHandshake) old = try_offer (retired->offer, message, &old_spoke);

          if (old != NULL || old_spoke)
            {
              refuse (self, connection,
                      retired->used ? COMPANION_CLOSE_CODE_USED : COMPANION_CLOSE_CODE_EXPIRED,
                      retired->used ? "code used" : "code expired");
              return;
            }
        }
      refuse (self, connection, COMPANION_CLOSE_UNKNOWN_CODE, "unknown code");
      return;
    }

  /* One handshake in flight a code. */
  if (self->pairing_tunnel != NULL)
    {
      refuse (self, connection, COMPANION_CLOSE_CODE_BUSY, "busy");
      return;
    }

  phone_key = companion_noise_handshake_get_remote_static (handshake);
  if (phone_key != NULL && companion_pairing_record_is_denied (self->record, g_bytes_get_data (phone_key, NULL)))
    {
      refuse (self, connection, COMPANION_CLOSE_UNLINKED, "unlinked");
      return;
    }

  self->pairing_tunnel = companion_tunnel_new (connection, handshake);
  self->pairing_offer = g_object_ref (self->offer);
  g_signal_connect (self->pairing_tunnel, "record", G_CALLBACK (on_pairing_record), self);
  g_signal_connect (self->pairing_tunnel, "closed", G_CALLBACK (on_pairing_closed), self);
  companion_tunnel_set_timing (self->pairing_tunnel, self->handshake_deadline_ms, 0, self->idle_timeout_ms);
  self->confirm_timer_id = g_timeout_add (self->handshake_deadline_ms, on_confirm_deadline, self);
  companion_tunnel_start (self->pairing_tunnel);
  if (self->pairing_tunnel != NULL)
    g_signal_emit (self, signals[SIGNAL_PAIRING_STARTED], 0);
}

/* ---- sessions ------------------------------------------------------------ */

static void forget_phone (CompanionDesktopServer *self,
                          gboolean                by_phone);

static void
touch_last_seen (CompanionDesktopServer *self)
{
  g_autoptr(GError) error = NULL;

  if (!is_paired (self))
    return;
  companion_pairing_record_set_last_seen (self->record, g_get_real_time () / G_USEC_PER_SEC);
  if (!companion_pairing_record_save (self->record, self->state_dir, &error))
    g_warning ("Could not save the pairing record: %s", error->message);
}

static void
on_session_record (CompanionTunnel        *tunnel,
                   JsonObject             *record,
                   CompanionDesktopServer *self)
{
  const char *type = json_object_get_string_member (record, "type");

  if (g_str_equal (type, "unlink"))
    {
      companion_tunnel_close (tunnel, COMPANION_CLOSE_UNLINKED, "unlinked");
      forget_phone (self, TRUE);
      return;
    }
  /* Everything else belongs to the layers above, such as sync. */
  g_signal_emit (self, signals[SIGNAL_SESSION_RECORD], g_quark_from_string (type), type, record);
}

static void
on_session_chunk (CompanionTunnel        *tunnel,
                  GBytes                 *header,
                  GBytes                 *data,
                  CompanionDesktopServer *self)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_CHUNK], 0, header, data);
}

static void
on_session_closed (CompanionTunnel        *tunnel,
                   GError                 *error,
                   CompanionDesktopServer *self)
{
  if (tunnel != self->session)
    return;
  g_signal_handlers_disconnect_by_data (tunnel, self);
  g_clear_object (&self->session);
  touch_last_seen (self);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
}

static void promote_session (CompanionDesktopServer *self,
                             CompanionTunnel        *tunnel);

static void
clear_challenger (CompanionDesktopServer *self)
{
  g_clear_handle_id (&self->challenger_timer_id, g_source_remove);
  if (self->challenger != NULL)
    {
      g_autoptr(CompanionTunnel) challenger = g_steal_pointer (&self->challenger);

      g_signal_handlers_disconnect_by_data (challenger, self);
      companion_tunnel_close (challenger, COMPANION_CLOSE_REPLACED, "replaced");
    }
}

static void
on_challenger_proven (CompanionTunnel        *tunnel,
                      CompanionDesktopServer *self)
{
  g_autoptr(CompanionTunnel) proven = g_steal_pointer (&self->challenger);

  g_clear_handle_id (&self->challenger_timer_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (proven, self);
  promote_session (self, proven);
}

static void
on_challenger_closed (CompanionTunnel        *tunnel,
                      GError                 *error,
                      CompanionDesktopServer *self)
{
  g_autoptr(CompanionTunnel) challenger = g_steal_pointer (&self->challenger);

  g_clear_handle_id (&self->challenger_timer_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (challenger, self);
  report_failure (self, g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED,
                                     "A second session for the paired phone ended before it proved itself "
                                     "(a replayed handshake?): %s", error != NULL ? error->message : "closed"));
}

static gboolean
on_challenger_deadline (gpointer user_data)
{
  CompanionDesktopServer *self = user_data;
  g_autoptr(CompanionTunnel) challenger = g_steal_pointer (&self->challenger);

  self->challenger_timer_id = 0;
  g_signal_handlers_disconnect_by_data (challenger, self);
  companion_tunnel_close (challenger, COMPANION_CLOSE_HANDSHAKE_TIMEOUT, "handshake timeout");
  report_failure (self, g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
                                             "A second session for the paired phone did not prove itself in time"));
  return G_SOURCE_REMOVE;
}

static void
handle_session_message (CompanionDesktopServer  *self,
                        SoupWebsocketConnection *connection,
                        GBytes                  *message)
{
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(CompanionTunnel) tunnel = NULL;
  g_autoptr(JsonObject) ping = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) prologue = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (!is_paired (self))
    {
      refuse (self, connection, COMPANION_CLOSE_NOT_PAIRED, "not paired");
      return;
    }

  handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_KK,
                                             COMPANION_NOISE_ROLE_RESPONDER, NULL);
  prologue = companion_session_prologue ();
  companion_noise_handshake_set_prologue (handshake, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (handshake, companion_identity_get_secret_key (self->identity));
  companion_noise_handshake_set_remote_static (handshake, companion_pairing_record_get_peer_public_key (self->record));
  if (!companion_noise_handshake_read_message (handshake, data, len, payload, NULL))
    {
      refuse (self, connection, COMPANION_CLOSE_UNKNOWN_IDENTITY, "unknown identity");
      return;
    }
  if (payload->len != 0)
    {
      refuse_handshake_payload (self, connection);
      return;
    }

  tunnel = companion_tunnel_new (connection, handshake);
  companion_tunnel_set_timing (tunnel, self->handshake_deadline_ms, 0, self->idle_timeout_ms);
  companion_tunnel_start (tunnel);
  if (companion_tunnel_get_state (tunnel) != COMPANION_TUNNEL_STATE_ESTABLISHED)
    return;

  if (self->session == NULL)
    {
      promote_session (self, tunnel);
      return;
    }

  /* A live session is only replaced by one that proves the phone is
   * there: the first handshake message alone may be a recording. A ping
   * makes the phone answer at once. */
  clear_challenger (self);
  self->challenger = g_object_ref (tunnel);
  g_signal_connect (tunnel, "peer-proven", G_CALLBACK (on_challenger_proven), self);
  g_signal_connect (tunnel, "closed", G_CALLBACK (on_challenger_closed), self);
  self->challenger_timer_id = g_timeout_add (self->handshake_deadline_ms, on_challenger_deadline, self);
  ping = json_object_new ();
  json_object_set_string_member (ping, "type", "ping");
  if (!companion_tunnel_send_record (tunnel, ping, &error))
    g_debug ("Could not ping a new session: %s", error->message);
}

/* The newest authenticated connection wins: the phone may have moved. */
static void
promote_session (CompanionDesktopServer *self,
                 CompanionTunnel        *tunnel)
{
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(JsonObject) hello = NULL;
  g_autoptr(GError) error = NULL;

  if (self->session != NULL)
    {
      g_autoptr(CompanionTunnel) old = g_steal_pointer (&self->session);
      g_signal_handlers_disconnect_by_data (old, self);
      companion_tunnel_close (old, COMPANION_CLOSE_REPLACED, "replaced");
    }
  self->session = g_object_ref (tunnel);
  g_signal_connect (tunnel, "record", G_CALLBACK (on_session_record), self);
  g_signal_connect (tunnel, "chunk", G_CALLBACK (on_session_chunk), self);
  g_signal_connect (tunnel, "closed", G_CALLBACK (on_session_closed), self);

  addresses = companion_desktop_server_dup_addresses (self);
  hello = companion_session_record_hello (g_get_host_name (), addresses);
  if (!companion_tunnel_send_record (tunnel, hello, &error))
    g_debug ("Could not send hello: %s", error->message);
  touch_last_seen (self);
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0, companion_pairing_record_get_peer_name (self->record));
}

/* ---- unlinking -------------------------------------------------------------- */

static gboolean
rotate_identity (CompanionDesktopServer *self,
                 GError                **error)
{
  g_autoptr(CompanionIdentity) fresh = companion_identity_generate ();

  if (!companion_key_store_delete_identity (self->key_store, error) ||
      !companion_key_store_save_identity (self->key_store, fresh, error))
    return FALSE;
  g_set_object (&self->identity, fresh);
  return TRUE;
}

static void
forget_phone (CompanionDesktopServer *self,
              gboolean                by_phone)
{
  g_autoptr(GError) error = NULL;

  if (!is_paired (self))
    return;

  /* The phone's key goes on the denylist, which outlives the pairing. */
  companion_pairing_record_unlink (self->record);
  if (!companion_pairing_record_save (self->record, self->state_dir, &error))
    g_warning ("Could not save the unlinked record: %s", error->message);
  g_clear_error (&error);
  g_clear_pointer (&self->safety_code, g_free);
  clear_challenger (self);
  if (!rotate_identity (self, &error))
    g_warning ("Could not replace this desktop's identity: %s", error->message);

  if (self->session != NULL)
    {
      g_autoptr(CompanionTunnel) old = g_steal_pointer (&self->session);
      g_signal_handlers_disconnect_by_data (old, self);
      companion_tunnel_close (old, COMPANION_CLOSE_UNLINKED, "unlinked");
    }

  g_signal_emit (self, signals[SIGNAL_UNLINKED], 0, by_phone);
  start_offers (self);
}

gboolean
companion_desktop_server_unlink (CompanionDesktopServer *self,
                                 GError                **error)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);

  if (!is_paired (self))
    {
      g_set_error_literal (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_NOT_PAIRED,
                           "This desktop is not paired with a phone");
      return FALSE;
    }

  /* Tell the phone first, authenticated, when it is here. */
  if (self->session != NULL)
    {
      g_autoptr(JsonObject) notice = json_object_new ();
      g_autoptr(GError) send_error = NULL;

      json_object_set_string_member (notice, "type", "unlink");
      if (!companion_tunnel_send_record (self->session, notice, &send_error))
        g_debug ("Could not tell the phone: %s", send_error->message);
    }
  forget_phone (self, FALSE);
  return TRUE;
}

/* ---- offers ------------------------------------------------------------------ */

static gboolean
on_offer_timer (gpointer user_data);

static void
new_offer (CompanionDesktopServer *self)
{
  g_autoptr(GPtrArray) addresses = companion_desktop_server_dup_addresses (self);
  g_autoptr(GError) error = NULL;
  CompanionPairingOffer *offer;

  if (self->offer != NULL)
    {
      retire_offer (self, self->offer, FALSE);
      g_clear_object (&self->offer);
    }
  offer = companion_pairing_offer_new (addresses, &error);
  if (offer == NULL)
    {
      report_failure (self, g_steal_pointer (&error));
      return;
    }
  self->offer = offer;
  self->offer_expires_at = g_get_monotonic_time () + (gint64) self->offer_lifetime_ms * 1000;
  g_signal_emit (self, signals[SIGNAL_OFFER_CHANGED], 0, offer);
}

static gboolean
on_offer_timer (gpointer user_data)
{
  CompanionDesktopServer *self = user_data;

  new_offer (self);
  return G_SOURCE_CONTINUE;
}

static void
start_offers (CompanionDesktopServer *self)
{
  if (self->soup_server == NULL || is_paired (self))
    return;
  stop_offers (self);
  new_offer (self);
  self->offer_timer_id = g_timeout_add (self->offer_lifetime_ms, on_offer_timer, self);
}

static void
stop_offers (CompanionDesktopServer *self)
{
  g_clear_handle_id (&self->offer_timer_id, g_source_remove);
}

/* ---- listening ------------------------------------------------------------------ */

static char *
port_file (CompanionDesktopServer *self)
{
  return g_build_filename (self->state_dir, "listen-port", NULL);
}

static guint16
saved_port (CompanionDesktopServer *self)
{
  g_autofree char *path = port_file (self);
  g_autofree char *text = NULL;
  guint64 port = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  g_strstrip (text);
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &port, NULL))
    return 0;
  return (guint16) port;
}

static gboolean
try_listen (CompanionDesktopServer *self,
            GInetAddress           *inet,
            guint16                 port,
            GError                **error)
{
  if (inet == NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (soup_server_listen_all (self->soup_server, port, 0, &local_error))
        return TRUE;
      /* Machines without IPv6 refuse the dual-stack socket. */
      soup_server_disconnect (self->soup_server);
      return soup_server_listen_all (self->soup_server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, error);
    }
  else
    {
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
      return soup_server_listen (self->soup_server, address, 0, error);
    }
}

gboolean
companion_desktop_server_listen (CompanionDesktopServer *self,
                                 GInetSocketAddress     *address,
                                 GError                **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  GInetAddress *inet = NULL;
  GSList *listeners;
  guint16 wanted = 0;
  guint16 candidates[3];
  guint n = 0;
  gboolean ok = FALSE;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup_server == NULL, FALSE);

  if (address != NULL)
    {
      inet = g_inet_socket_address_get_address (address);
      wanted = g_inet_socket_address_get_port (address);
      if (g_inet_address_get_is_any (inet) && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
        inet = NULL; /* "[::]" means every interface, both families */
    }

  /* An explicit port is kept to. Otherwise last time's, so a paired phone
   * finds us again; then, with no address given, the documented default;
   * then any free one. An explicit ":0" never takes the shared default. */
  if (wanted != 0)
    candidates[n++] = wanted;
  else
    {
      guint16 last = saved_port (self);
      if (last != 0)
        candidates[n++] = last;
      if (address == NULL && last != COMPANION_DEFAULT_PORT)
        candidates[n++] = COMPANION_DEFAULT_PORT;
      candidates[n++] = 0;
    }

  self->soup_server = soup_server_new ("server-header", "companion", NULL);
  /* Deflate costs throughput on media and inflates without bound. */
  soup_server_remove_websocket_extension (self->soup_server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  g_signal_connect (self->soup_server, "request-started", G_CALLBACK (on_request_started), self);
  soup_server_add_websocket_handler (self->soup_server, COMPANION_PATH_PAIR, NULL, NULL,
                                     on_websocket, self, NULL);
  soup_server_add_websocket_handler (self->soup_server, COMPANION_PATH_SESSION, NULL, NULL,
                                     on_websocket, self, NULL);

  for (guint i = 0; i < n && !ok; i++)
    {
      g_clear_error (&local_error);
      ok = try_listen (self, inet, candidates[i], &local_error);
      if (!ok)
        soup_server_disconnect (self->soup_server);
    }
  if (!ok)
    {
      g_set_error (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_LISTEN_FAILED,
                   "Cannot listen on port %u: %s", candidates[n - 1], local_error->message);
      g_clear_object (&self->soup_server);
      return FALSE;
    }

  listeners = soup_server_get_listeners (self->soup_server);
  /* libsoup listens with a backlog of 10: a burst of connections (a port
   * scan, a flood) fills it and the kernel drops the next SYNs, the phone's
   * too, which then waits a second or more to retry. Listening again with
   * a longer queue lets the eviction of unauthenticated connections, not
   * the kernel, decide. */
  for (GSList *l = listeners; l != NULL; l = l->next)
    if (listen (g_socket_get_fd (l->data), COMPANION_LISTEN_BACKLOG) != 0)
      g_debug ("Could not lengthen the listen queue: %s", g_strerror (errno));
  if (listeners != NULL)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);
      if (G_IS_INET_SOCKET_ADDRESS (local))
        self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  if (inet != NULL && !g_inet_address_get_is_any (inet))
    self->bound_address = g_object_ref (inet);

  path = port_file (self);
  text = g_strdup_printf ("%u\n", self->port);
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local_error))
    g_warning ("Could not remember the port: %s", local_error->message);

  start_offers (self);
  return TRUE;
}

guint16
companion_desktop_server_get_port (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), 0);
  return self->port;
}

GPtrArray *
companion_desktop_server_dup_addresses (CompanionDesktopServer *self)
{
  GPtrArray *addresses;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), NULL);

  if (self->bound_address == NULL)
    return companion_network_lan_addresses (self->port);
  addresses = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (addresses, g_inet_socket_address_new (self->bound_address, self->port));
  return addresses;
}

CompanionPairingOffer *
companion_desktop_server_get_offer (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), NULL);
  return self->offer;
}

gint64
companion_desktop_server_get_offer_expires_at (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), 0);
  return self->offer != NULL ? self->offer_expires_at : 0;
}

gboolean
companion_desktop_server_is_paired (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);
  return is_paired (self);
}

gboolean
companion_desktop_server_is_connected (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);
  return self->session != NULL;
}

const char *
companion_desktop_server_get_phone_name (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), NULL);
  return is_paired (self) ? companion_pairing_record_get_peer_name (self->record) : NULL;
}

const char *
companion_desktop_server_get_safety_code (CompanionDesktopServer *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), NULL);
  return self->safety_code;
}

void
companion_desktop_server_set_offer_lifetime (CompanionDesktopServer *self,
                                             guint                   milliseconds)
{
  g_return_if_fail (COMPANION_IS_DESKTOP_SERVER (self));
  g_return_if_fail (milliseconds > 0);

  self->offer_lifetime_ms = milliseconds;
  if (self->offer_timer_id != 0)
    start_offers (self);
}

void
companion_desktop_server_set_timing (CompanionDesktopServer *self,
                                     guint                   handshake_deadline_ms,
                                     guint                   idle_timeout_ms)
{
  g_return_if_fail (COMPANION_IS_DESKTOP_SERVER (self));
  g_return_if_fail (handshake_deadline_ms > 0);

  self->handshake_deadline_ms = handshake_deadline_ms;
  self->idle_timeout_ms = idle_timeout_ms;
}

/* ---- object -------------------------------------------------------------------- */

static void
companion_desktop_server_dispose (GObject *object)
{
  CompanionDesktopServer *self = COMPANION_DESKTOP_SERVER (object);

  stop_offers (self);
  clear_pairing_tunnel (self);
  g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
  g_queue_clear_full (&self->unread, (GDestroyNotify) unread_free);
  clear_challenger (self);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      companion_tunnel_close (self->session, COMPANION_CLOSE_NORMAL, "shutting down");
      g_clear_object (&self->session);
    }
  if (self->soup_server != NULL)
    soup_server_disconnect (self->soup_server);
  g_clear_object (&self->soup_server);
  g_clear_object (&self->offer);
  g_clear_pointer (&self->retired, g_ptr_array_unref);
  g_clear_object (&self->record);
  g_clear_object (&self->identity);
  g_clear_object (&self->key_store);
  g_clear_object (&self->bound_address);

  G_OBJECT_CLASS (companion_desktop_server_parent_class)->dispose (object);
}

static void
companion_desktop_server_finalize (GObject *object)
{
  CompanionDesktopServer *self = COMPANION_DESKTOP_SERVER (object);

  g_clear_pointer (&self->safety_code, g_free);
  g_free (self->state_dir);

  G_OBJECT_CLASS (companion_desktop_server_parent_class)->finalize (object);
}

static void
companion_desktop_server_class_init (CompanionDesktopServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_desktop_server_dispose;
  object_class->finalize = companion_desktop_server_finalize;

  signals[SIGNAL_OFFER_CHANGED] = g_signal_new ("offer-changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                                NULL, G_TYPE_NONE, 1, G_TYPE_OBJECT);
  signals[SIGNAL_PAIRED] = g_signal_new ("paired", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_CONNECTED] = g_signal_new ("connected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DISCONNECTED] = g_signal_new ("disconnected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                               NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_UNLINKED] = g_signal_new ("unlinked", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  /* Detailed by the record's type: "session-record::changes". */
  signals[SIGNAL_SESSION_RECORD] = g_signal_new ("session-record", type,
                                                 G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL,
                                                 NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
  /* Binary chunks (media) of the session. */
  signals[SIGNAL_SESSION_CHUNK] = g_signal_new ("session-chunk", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                                NULL, G_TYPE_NONE, 2, G_TYPE_BYTES, G_TYPE_BYTES);
  signals[SIGNAL_PAIRING_STARTED] = g_signal_new ("pairing-started", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                  NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ATTEMPT_FAILED] = g_signal_new ("attempt-failed", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
companion_desktop_server_init (CompanionDesktopServer *self)
{
  self->offer_lifetime_ms = COMPANION_OFFER_LIFETIME_MS;
  self->handshake_deadline_ms = COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS;
  self->idle_timeout_ms = COMPANION_TUNNEL_IDLE_TIMEOUT_MS;
  self->retired = g_ptr_array_new_with_free_func ((GDestroyNotify) retired_offer_free);
  g_queue_init (&self->pending);
}

CompanionDesktopServer *
companion_desktop_server_new (const char        *state_dir,
                              CompanionKeyStore *key_store,
                              GError           **error)
{
  g_autoptr(CompanionDesktopServer) self = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (key_store), NULL);

  self = g_object_new (COMPANION_TYPE_DESKTOP_SERVER, NULL);
  self->state_dir = g_strdup (state_dir);
  self->key_store = g_object_ref (key_store);

  self->record = companion_pairing_record_load_or_new (state_dir, error);
  if (self->record == NULL)
    return NULL;

  /* A linked desktop whose key is gone (a keyring that is down, or was
   * wiped) must not quietly become someone else: say so instead. */
  if (companion_pairing_record_has_peer (self->record))
    {
      g_autoptr(GError) local_error = NULL;

      self->identity = companion_key_store_load_identity (key_store, &local_error);
      if (self->identity == NULL)
        {
          if (local_error != NULL)
            g_propagate_error (error, g_steal_pointer (&local_error));
          else
            g_set_error (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_IDENTITY_MISSING,
                         "This desktop is linked to “%s”, but its key is not in the %s: "
                         "run “companion-cli unlink” and pair again",
                         companion_pairing_record_get_peer_name (self->record),
                         companion_key_store_describe (key_store));
          return NULL;
        }
    }
  else
    {
      self->identity = companion_key_store_load_or_create_identity (key_store, error);
      if (self->identity == NULL)
        return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
companion_desktop_server_unlink_offline (const char        *state_dir,
                                         CompanionKeyStore *key_store,
                                         GError           **error)
{
  g_autoptr(CompanionPairingRecord) record = NULL;

  g_return_val_if_fail (state_dir != NULL, FALSE);
  g_return_val_if_fail (COMPANION_IS_KEY_STORE (key_store), FALSE);

  record = companion_pairing_record_load_or_new (state_dir, error);
  if (record == NULL)
    return FALSE;
  if (!companion_pairing_record_has_peer (record))
    {
      g_set_error_literal (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_NOT_PAIRED,
                           "This desktop is not paired with a phone");
      return FALSE;
    }
  companion_pairing_record_unlink (record);
  /* A new identity is made at the next start. */
  return companion_pairing_record_save (record, state_dir, error) &&
         companion_key_store_delete_identity (key_store, error);
}

gboolean
companion_desktop_server_send_record (CompanionDesktopServer *self,
                                      JsonObject             *record,
                                      GError                **error)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);
  g_return_val_if_fail (record != NULL, FALSE);

  if (self->session == NULL)
    {
      g_set_error_literal (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED,
                           "The phone is not connected");
      return FALSE;
    }
  return companion_tunnel_send_record (self->session, record, error);
}

gboolean
companion_desktop_server_send_chunk (CompanionDesktopServer *self,
                                     const guint8           *header,
                                     gsize                   header_len,
                                     const guint8           *data,
                                     gsize                   len,
                                     GError                **error)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (self), FALSE);

  if (self->session == NULL)
    {
      g_set_error_literal (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED,
                           "The phone is not connected");
      return FALSE;
    }
  return companion_tunnel_send_chunk (self->session, header, header_len, data, len, error);
}

