/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone-client"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "companion-file-key-store.h"
#include "companion-identity.h"
#include "companion-network.h"
#include "companion-noise.h"
#include "companion-pairing-payload.h"
#include "companion-pairing-record.h"
#include "companion-phone-client.h"
#include "companion-session-protocol.h"
#include "companion-tunnel.h"

#define FIRST_RETRY_MS 500
#define MAX_RETRY_MS   30000

struct _CompanionPhoneClient
{
  GObject                  parent_instance;

  char                    *state_dir;
  char                    *phone_name;
  CompanionKeyStore       *key_store;
  CompanionIdentity       *identity;
  CompanionPairingRecord  *record;       /* the desktop (when paired) and the denylist */

  SoupSession             *session;
  GCancellable            *cancellable;
  CompanionPairingPayload *payload;      /* set while pairing */
  GStrv                    addresses;    /* tried in order */
  guint                    address_index;
  GError                  *last_error;   /* of the addresses tried */
  CompanionTunnel         *tunnel;
  gboolean                 connected;
  char                    *safety_code;

  guint                    ping_interval_ms;
  guint                    idle_timeout_ms;
  guint                    first_retry_ms;
  guint                    max_retry_ms;
  guint                    retry_ms;
  guint                    retry_id;
  gboolean                 stopped;
  gboolean                 offline;      /* companion_phone_client_set_online () */
};

G_DEFINE_FINAL_TYPE (CompanionPhoneClient, companion_phone_client, G_TYPE_OBJECT)

enum {
  SIGNAL_PAIRED,
  SIGNAL_CONNECTED,
  SIGNAL_DISCONNECTED,
  SIGNAL_PAIRING_FAILED,
  SIGNAL_UNLINKED,
  SIGNAL_SESSION_RECORD,
  SIGNAL_SESSION_CHUNK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void try_next_address (CompanionPhoneClient *self);
static void schedule_reconnect (CompanionPhoneClient *self);

static void
drop_tunnel (CompanionPhoneClient *self)
{
  if (self->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->tunnel, self);
      if (companion_tunnel_get_state (self->tunnel) != COMPANION_TUNNEL_STATE_CLOSED)
        companion_tunnel_close (self->tunnel, COMPANION_CLOSE_NORMAL, "bye");
    }
  g_clear_object (&self->tunnel);
  self->connected = FALSE;
}

static void
pairing_failed (CompanionPhoneClient *self,
                GError               *error)
{
  drop_tunnel (self);
  g_clear_object (&self->payload);
  g_signal_emit (self, signals[SIGNAL_PAIRING_FAILED], 0, error);
  g_error_free (error);
}

/* ---- pairing --------------------------------------------------------------- */

static void
start_session (CompanionPhoneClient *self);

static void
on_pairing_record (CompanionTunnel      *tunnel,
                   JsonObject           *record,
                   CompanionPhoneClient *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) addresses = NULL;
  guint8 desktop_key[32];

  if (!companion_session_record_parse_welcome (record, desktop_key, &name, &addresses, &error))
    {
      pairing_failed (self, g_steal_pointer (&error));
      return;
    }

  if (!companion_pairing_record_set_peer (self->record, desktop_key, name,
                                          g_get_real_time () / G_USEC_PER_SEC, &error) ||
      !companion_pairing_record_set_addresses (self->record, (const char * const *) addresses, &error) ||
      !companion_pairing_record_save (self->record, self->state_dir, &error))
    {
      companion_pairing_record_unlink (self->record);
      companion_pairing_record_undeny (self->record, desktop_key);
      pairing_failed (self, g_steal_pointer (&error));
      return;
    }

  g_free (self->safety_code);
  self->safety_code = companion_tunnel_dup_safety_code (tunnel);
  g_clear_object (&self->payload);
  drop_tunnel (self);

  g_signal_emit (self, signals[SIGNAL_PAIRED], 0, name, self->safety_code);
  /* Now prove the desktop holds its long-term key: reconnect with KK. */
  start_session (self);
}

static void
on_pairing_established (CompanionTunnel      *tunnel,
                        CompanionPhoneClient *self)
{
  g_autoptr(JsonObject) confirm = companion_session_record_confirm (self->phone_name);
  g_autoptr(GError) error = NULL;

  /* The first transport message proves to the desktop that we hold the secret. */
  if (!companion_tunnel_send_record (tunnel, confirm, &error))
    pairing_failed (self, g_steal_pointer (&error));
}

static void
on_pairing_closed (CompanionTunnel      *tunnel,
                   GError               *error,
                   CompanionPhoneClient *self)
{
  pairing_failed (self, error != NULL ? g_error_copy (error)
                                      : g_error_new_literal (COMPANION_TUNNEL_ERROR,
                                                             COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
                                                             "The desktop closed the connection before "
                                                             "finishing the pairing"));
}

/* ---- sessions ----------------------------------------------------------------- */

static void
forget_desktop (CompanionPhoneClient *self,
                gboolean              by_desktop)
{
  g_autoptr(GError) error = NULL;

  drop_tunnel (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  companion_pairing_record_unlink (self->record);
  if (!companion_pairing_record_save (self->record, self->state_dir, &error))
    g_warning ("Could not save the unlinked record: %s", error->message);
  g_clear_error (&error);
  g_clear_pointer (&self->safety_code, g_free);

  /* A fresh identity for the next pairing; the old one is refused anyway. */
  if (!companion_key_store_delete_identity (self->key_store, &error))
    g_warning ("Could not delete this phone's identity: %s", error->message);
  g_clear_error (&error);
  g_clear_object (&self->identity);
  self->identity = companion_identity_generate ();
  if (!companion_key_store_save_identity (self->key_store, self->identity, &error))
    g_warning ("Could not save a new identity: %s", error->message);

  g_signal_emit (self, signals[SIGNAL_UNLINKED], 0, by_desktop);
}

static void
on_session_established (CompanionTunnel      *tunnel,
                        CompanionPhoneClient *self)
{
  self->connected = TRUE;
  self->retry_ms = self->first_retry_ms;
  companion_pairing_record_set_last_seen (self->record, g_get_real_time () / G_USEC_PER_SEC);
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0, companion_pairing_record_get_peer_name (self->record));
}

static void
on_session_record (CompanionTunnel      *tunnel,
                   JsonObject           *record,
                   CompanionPhoneClient *self)
{
  const char *type = json_object_get_string_member (record, "type");

  if (g_str_equal (type, "hello"))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = NULL;
      g_auto(GStrv) addresses = NULL;

      if (!companion_session_record_parse_hello (record, &name, &addresses, &error))
        {
          g_warning ("Ignoring a bad hello: %s", error->message);
          return;
        }
      /* The desktop's addresses may change; keep them for the next time. */
      if (!companion_pairing_record_set_addresses (self->record, (const char * const *) addresses, &error) ||
          !companion_pairing_record_save (self->record, self->state_dir, &error))
        g_warning ("Could not save the pairing record: %s", error->message);
    }
  else if (g_str_equal (type, "unlink"))
    forget_desktop (self, TRUE);
  else
    /* Everything else belongs to the layers above, such as sync. */
    g_signal_emit (self, signals[SIGNAL_SESSION_RECORD], g_quark_from_string (type), type, record);
}

static void
on_session_chunk (CompanionTunnel      *tunnel,
                  GBytes               *header,
                  GBytes               *data,
                  CompanionPhoneClient *self)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_CHUNK], 0, header, data);
}

static void
on_session_closed (CompanionTunnel      *tunnel,
                   GError               *error,
                   CompanionPhoneClient *self)
{
  gboolean was_connected = self->connected;

  g_signal_handlers_disconnect_by_data (tunnel, self);
  g_clear_object (&self->tunnel);
  self->connected = FALSE;

  /* Keep the most telling failure of this round: the desktop's refusal
   * over a lost connection, and either over nothing. */
  if (error != NULL &&
      (self->last_error == NULL || g_error_matches (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED)))
    {
      g_clear_error (&self->last_error);
      self->last_error = g_error_copy (error);
    }
  if (was_connected)
    g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
  else
    try_next_address (self);
  if (was_connected && !self->stopped)
    schedule_reconnect (self);
}

/* ---- connecting ----------------------------------------------------------------- */

static CompanionNoiseHandshake *
make_handshake (CompanionPhoneClient *self)
{
  CompanionNoiseHandshake *handshake;
  g_autoptr(GBytes) prologue = NULL;

  if (self->payload != NULL)
    {
      handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_IKPSK2,
                                                 COMPANION_NOISE_ROLE_INITIATOR, NULL);
      prologue = companion_pairing_prologue (self->payload);
      companion_noise_handshake_set_remote_static (handshake, companion_pairing_payload_get_public_key (self->payload));
      companion_noise_handshake_set_psk (handshake, companion_pairing_payload_get_psk (self->payload));
    }
  else
    {
      handshake = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_KK,
                                                 COMPANION_NOISE_ROLE_INITIATOR, NULL);
      prologue = companion_session_prologue ();
      companion_noise_handshake_set_remote_static (handshake, companion_pairing_record_get_peer_public_key (self->record));
    }
  companion_noise_handshake_set_prologue (handshake, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (handshake, companion_identity_get_secret_key (self->identity));
  return handshake;
}

static void
on_websocket_connected (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(CompanionPhoneClient) self = user_data;
  g_autoptr(SoupWebsocketConnection) connection = NULL;
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GError) error = NULL;

  connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (self->stopped || (self->offline && self->payload == NULL))
    return;
  if (connection == NULL)
    {
      g_clear_error (&self->last_error);
      self->last_error = g_steal_pointer (&error);
      try_next_address (self);
      return;
    }

  handshake = make_handshake (self);
  self->tunnel = companion_tunnel_new (connection, handshake);
  if (self->payload != NULL)
    {
      g_signal_connect (self->tunnel, "established", G_CALLBACK (on_pairing_established), self);
      g_signal_connect (self->tunnel, "record", G_CALLBACK (on_pairing_record), self);
      g_signal_connect (self->tunnel, "closed", G_CALLBACK (on_pairing_closed), self);
    }
  else
    {
      companion_tunnel_set_timing (self->tunnel, COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS,
                                   self->ping_interval_ms, self->idle_timeout_ms);
      g_signal_connect (self->tunnel, "established", G_CALLBACK (on_session_established), self);
      g_signal_connect (self->tunnel, "record", G_CALLBACK (on_session_record), self);
      g_signal_connect (self->tunnel, "chunk", G_CALLBACK (on_session_chunk), self);
      g_signal_connect (self->tunnel, "closed", G_CALLBACK (on_session_closed), self);
    }
  companion_tunnel_start (self->tunnel);
}

static void
try_next_address (CompanionPhoneClient *self)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autofree char *uri = NULL;
  const char *address;

  if (self->stopped || (self->offline && self->payload == NULL))
    return;

  if (self->addresses == NULL || self->addresses[self->address_index] == NULL)
    {
      g_autoptr(GError) error = self->last_error != NULL
        ? g_steal_pointer (&self->last_error)
        : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, "The desktop has no address to try");

      if (self->payload != NULL)
        pairing_failed (self, g_error_new (error->domain, error->code,
                                           "Could not pair with the desktop: %s", error->message));
      else
        {
          g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
          schedule_reconnect (self);
        }
      return;
    }

  address = self->addresses[self->address_index++];
  uri = g_strdup_printf ("ws://%s%s", address, self->payload != NULL ? COMPANION_PATH_PAIR
                                                                     : COMPANION_PATH_SESSION);
  message = soup_message_new ("GET", uri);
  if (message == NULL)
    {
      try_next_address (self);
      return;
    }
  soup_session_websocket_connect_async (self->session, message, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->cancellable, on_websocket_connected, g_object_ref (self));
}

static void
start_attempt (CompanionPhoneClient *self,
               GStrv                 addresses)
{
  g_strfreev (self->addresses);
  self->addresses = addresses;
  self->address_index = 0;
  g_clear_error (&self->last_error);
  try_next_address (self);
}

static void
start_session (CompanionPhoneClient *self)
{
  const char * const *known = companion_pairing_record_get_addresses (self->record);

  start_attempt (self, g_strdupv ((GStrv) known));
}

static gboolean
on_retry (gpointer user_data)
{
  CompanionPhoneClient *self = user_data;

  self->retry_id = 0;
  if (companion_pairing_record_has_peer (self->record) && self->tunnel == NULL)
    start_session (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (CompanionPhoneClient *self)
{
  if (self->stopped || self->offline || !companion_pairing_record_has_peer (self->record) ||
      self->retry_id != 0)
    return;
  self->retry_id = g_timeout_add (self->retry_ms, on_retry, self);
  self->retry_ms = MIN (self->retry_ms * 2, self->max_retry_ms);
}

void
companion_phone_client_pair (CompanionPhoneClient    *self,
                             CompanionPairingPayload *payload)
{
  GPtrArray *list;
  GStrv addresses;

  g_return_if_fail (COMPANION_IS_PHONE_CLIENT (self));
  g_return_if_fail (COMPANION_IS_PAIRING_PAYLOAD (payload));

  drop_tunnel (self);
  g_set_object (&self->payload, payload);
  list = companion_pairing_payload_get_addresses (payload);
  addresses = g_new0 (char *, list->len + 1);
  for (guint i = 0; i < list->len; i++)
    addresses[i] = companion_network_address_to_string (g_ptr_array_index (list, i));
  start_attempt (self, addresses);
}

gboolean
companion_phone_client_connect (CompanionPhoneClient *self,
                                GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);

  if (!companion_pairing_record_has_peer (self->record))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "This phone is not paired with a desktop: run “companion-phone scan IMAGE” first");
      return FALSE;
    }
  start_session (self);
  return TRUE;
}

gboolean
companion_phone_client_unlink (CompanionPhoneClient *self,
                               GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);

  if (!companion_pairing_record_has_peer (self->record))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "This phone is not paired with a desktop");
      return FALSE;
    }
  if (self->tunnel != NULL && self->connected)
    {
      g_autoptr(JsonObject) notice = json_object_new ();
      g_autoptr(GError) send_error = NULL;

      json_object_set_string_member (notice, "type", "unlink");
      if (!companion_tunnel_send_record (self->tunnel, notice, &send_error))
        g_debug ("Could not tell the desktop: %s", send_error->message);
    }
  forget_desktop (self, FALSE);
  return TRUE;
}

void
companion_phone_client_stop (CompanionPhoneClient *self)
{
  g_return_if_fail (COMPANION_IS_PHONE_CLIENT (self));

  self->stopped = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  drop_tunnel (self);
}

void
companion_phone_client_set_online (CompanionPhoneClient *self,
                                   gboolean              online)
{
  g_return_if_fail (COMPANION_IS_PHONE_CLIENT (self));

  online = !!online;
  if (self->offline == !online)
    return;
  self->offline = !online;
  if (!online)
    {
      gboolean was_connected = self->connected;

      g_clear_handle_id (&self->retry_id, g_source_remove);
      if (self->payload != NULL)
        return; /* pairing goes on; its session waits until online */
      /* Abandon a connection attempt under way. */
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
      drop_tunnel (self);
      if (was_connected)
        g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, NULL);
      return;
    }
  self->retry_ms = self->first_retry_ms;
  if (!self->stopped && self->payload == NULL && self->tunnel == NULL &&
      companion_pairing_record_has_peer (self->record))
    start_session (self);
}

gboolean
companion_phone_client_is_paired (CompanionPhoneClient *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);
  return companion_pairing_record_has_peer (self->record);
}

gboolean
companion_phone_client_is_connected (CompanionPhoneClient *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);
  return self->connected;
}

const char *
companion_phone_client_get_desktop_name (CompanionPhoneClient *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), NULL);
  return companion_pairing_record_has_peer (self->record) ? companion_pairing_record_get_peer_name (self->record) : NULL;
}

const char *
companion_phone_client_get_safety_code (CompanionPhoneClient *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), NULL);
  return self->safety_code;
}

void
companion_phone_client_set_timing (CompanionPhoneClient *self,
                                   guint                 ping_interval_ms,
                                   guint                 idle_timeout_ms,
                                   guint                 first_retry_ms,
                                   guint                 max_retry_ms)
{
  g_return_if_fail (COMPANION_IS_PHONE_CLIENT (self));

  self->ping_interval_ms = ping_interval_ms;
  self->idle_timeout_ms = idle_timeout_ms;
  self->first_retry_ms = self->retry_ms = first_retry_ms;
  self->max_retry_ms = max_retry_ms;
}

static void
companion_phone_client_dispose (GObject *object)
{
  CompanionPhoneClient *self = COMPANION_PHONE_CLIENT (object);

  self->stopped = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  drop_tunnel (self);
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->payload);
  g_clear_object (&self->record);
  g_clear_object (&self->identity);
  g_clear_object (&self->key_store);

  G_OBJECT_CLASS (companion_phone_client_parent_class)->dispose (object);
}

static void
companion_phone_client_finalize (GObject *object)
{
  CompanionPhoneClient *self = COMPANION_PHONE_CLIENT (object);

  g_clear_pointer (&self->addresses, g_strfreev);
  g_clear_pointer (&self->safety_code, g_free);
  g_clear_error (&self->last_error);
  g_free (self->state_dir);
  g_free (self->phone_name);

  G_OBJECT_CLASS (companion_phone_client_parent_class)->finalize (object);
}

static void
companion_phone_client_class_init (CompanionPhoneClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_phone_client_dispose;
  object_class->finalize = companion_phone_client_finalize;

  signals[SIGNAL_PAIRED] = g_signal_new ("paired", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_CONNECTED] = g_signal_new ("connected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DISCONNECTED] = g_signal_new ("disconnected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                               NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_PAIRING_FAILED] = g_signal_new ("pairing-failed", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  /* Detailed by the record's type: "session-record::sync-request". */
  signals[SIGNAL_SESSION_RECORD] = g_signal_new ("session-record", type,
                                                 G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL,
                                                 NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
  /* Binary chunks (media) of the session. */
  signals[SIGNAL_SESSION_CHUNK] = g_signal_new ("session-chunk", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                                NULL, G_TYPE_NONE, 2, G_TYPE_BYTES, G_TYPE_BYTES);
  signals[SIGNAL_UNLINKED] = g_signal_new ("unlinked", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
companion_phone_client_init (CompanionPhoneClient *self)
{
  self->cancellable = g_cancellable_new ();
  self->ping_interval_ms = COMPANION_TUNNEL_PING_INTERVAL_MS;
  self->idle_timeout_ms = COMPANION_TUNNEL_IDLE_TIMEOUT_MS;
  self->first_retry_ms = self->retry_ms = FIRST_RETRY_MS;
  self->max_retry_ms = MAX_RETRY_MS;
  /* Direct connections only: the desktop is on the LAN, and a proxy would
   * see every connection the phone makes to it. NULL rather than an empty
   * GSimpleProxyResolver: libsoup then turns proxying off in its
   * GSocketClient, whereas with any resolver GIO still builds a proxy
   * enumerator, which loads the desktop's default resolver (the GNOME one
   * aborts when its settings schema is missing, as in isolated tests). */
  self->session = soup_session_new_with_options ("timeout", 10, "proxy-resolver", NULL, NULL);
  /* No permessage-deflate: see NOTES.md. */
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
}

CompanionPhoneClient *
companion_phone_client_new (const char *state_dir,
                            const char *phone_name,
                            GError    **error)
{
  g_autoptr(CompanionPhoneClient) self = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_PHONE_CLIENT, NULL);
  self->state_dir = g_strdup (state_dir);
  self->phone_name = g_strdup (phone_name != NULL ? phone_name : "Companion phone");
  self->key_store = COMPANION_KEY_STORE (companion_file_key_store_new (state_dir));

  self->identity = companion_key_store_load_or_create_identity (self->key_store, error);
  if (self->identity == NULL)
    return NULL;
  self->record = companion_pairing_record_load_or_new (state_dir, error);
  if (self->record == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

static gboolean
check_connected (CompanionPhoneClient  *self,
                 GError               **error)
{
  if (self->tunnel != NULL && self->connected)
    return TRUE;
  g_set_error_literal (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED,
                       "The desktop is not connected");
  return FALSE;
}

gboolean
companion_phone_client_send_record (CompanionPhoneClient *self,
                                    JsonObject           *record,
                                    GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);
  g_return_val_if_fail (record != NULL, FALSE);

  if (!check_connected (self, error))
    return FALSE;
  return companion_tunnel_send_record (self->tunnel, record, error);
}

gboolean
companion_phone_client_send_record_text (CompanionPhoneClient *self,
                                         const char           *text,
                                         gsize                 len,
                                         GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  if (!check_connected (self, error))
    return FALSE;
  return companion_tunnel_send_record_text (self->tunnel, text, len, error);
}

gboolean
companion_phone_client_send_chunk_filled (CompanionPhoneClient    *self,
                                          const guint8            *header,
                                          gsize                    header_len,
                                          gsize                    len,
                                          CompanionTunnelChunkFill fill,
                                          gpointer                 user_data,
                                          GError                 **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (self), FALSE);

  if (!check_connected (self, error))
    return FALSE;
  return companion_tunnel_send_chunk_filled (self->tunnel, header, header_len, len, fill,
                                             user_data, error);
}
