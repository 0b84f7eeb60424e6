/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Pairing and tunnel tests, in one process and for real: a
 * CompanionDesktopServer listening on loopback with its own state folder,
 * CompanionPhoneClients with theirs, and, for the hostile cases, raw libsoup
 * WebSocket clients that drive the Noise handshake and transport by hand.
 * Everything runs on the default main context; every wait has a deadline, so
 * a broken case fails instead of hanging.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "companion-core.h"
#include "companion-desktop-server.h"
#include "companion-file-key-store.h"
#include "companion-identity.h"
#include "companion-noise-cipher.h"
#include "companion-noise.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-pairing-record.h"
#include "companion-phone-client.h"
#include "companion-session-protocol.h"
#include "companion-tunnel.h"

#include "test-handshake.h"
#include "test-loop.h"
#include "test-util.h"

static char *base_dir;

/* ---- files ------------------------------------------------------------------- */

static char *
make_state_dir (void)
{
  static guint counter;
  char *dir = g_strdup_printf ("%s/state-%u", base_dir, ++counter);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return dir;
}

/* The pairing.json of DIR as text, or NULL when there is none. */
static char *
read_record_file (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, COMPANION_PAIRING_RECORD_FILENAME, NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

static CompanionPairingRecord *
load_record (const char *dir)
{
  g_autoptr(GError) error = NULL;
  CompanionPairingRecord *record = companion_pairing_record_load (dir, &error);

  g_assert_no_error (error);
  return record;
}

/* Nothing about a peer is stored in DIR. */
static void
assert_no_peer_stored (const char *dir)
{
  g_autoptr(CompanionPairingRecord) record = load_record (dir);

  if (record != NULL)
    g_assert_false (companion_pairing_record_has_peer (record));
}

static CompanionIdentity *
load_identity (const char *dir)
{
  g_autoptr(CompanionFileKeyStore) store = companion_file_key_store_new (dir);
  g_autoptr(GError) error = NULL;
  CompanionIdentity *identity = companion_key_store_load_identity (COMPANION_KEY_STORE (store), &error);

  g_assert_no_error (error);
  g_assert_nonnull (identity);
  return identity;
}

/* ---- the desktop ------------------------------------------------------------- */

typedef struct
{
  char                   *dir;
  CompanionKeyStore      *key_store;
  CompanionDesktopServer *server;
  guint16                 port;

  guint                   n_offers;
  guint                   n_paired;
  guint                   n_connected;
  guint                   n_disconnected;
  guint                   n_unlinked;
  char                   *paired_name;
  char                   *paired_code;
  GError                 *disconnect_error; /* of the last "disconnected" */
  gboolean                unlinked_by_phone;
  GPtrArray              *attempts;         /* GError of each "attempt-failed" */
} Desktop;

static void
on_desktop_offer_changed (CompanionDesktopServer *server,
                          CompanionPairingOffer  *offer,
                          Desktop                *d)
{
  d->n_offers++;
}

static void
on_desktop_paired (CompanionDesktopServer *server,
                   const char             *name,
                   const char             *code,
                   Desktop                *d)
{
  d->n_paired++;
  g_free (d->paired_name);
  d->paired_name = g_strdup (name);
  g_free (d->paired_code);
  d->paired_code = g_strdup (code);
}

static void
on_desktop_connected (CompanionDesktopServer *server,
                      const char             *name,
                      Desktop                *d)
{
  d->n_connected++;
}

static void
on_desktop_disconnected (CompanionDesktopServer *server,
                         GError                 *error,
                         Desktop                *d)
{
  d->n_disconnected++;
  g_clear_error (&d->disconnect_error);
  if (error != NULL)
    d->disconnect_error = g_error_copy (error);
}

static void
on_desktop_unlinked (CompanionDesktopServer *server,
                     gboolean                by_phone,
                     Desktop                *d)
{
  d->n_unlinked++;
  d->unlinked_by_phone = by_phone;
}

static void
on_desktop_attempt_failed (CompanionDesktopServer *server,
                           GError                 *error,
                           Desktop                *d)
{
  g_test_message ("desktop: attempt failed: %s", error->message);
  g_ptr_array_add (d->attempts, g_error_copy (error));
}

static Desktop *
desktop_new (void)
{
  Desktop *d = g_new0 (Desktop, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = test_util_free_port ();

  d->dir = make_state_dir ();
  d->attempts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  d->key_store = COMPANION_KEY_STORE (companion_file_key_store_new (d->dir));
  d->server = companion_desktop_server_new (d->dir, d->key_store, &error);
  g_assert_no_error (error);
  g_signal_connect (d->server, "offer-changed", G_CALLBACK (on_desktop_offer_changed), d);
  g_signal_connect (d->server, "paired", G_CALLBACK (on_desktop_paired), d);
  g_signal_connect (d->server, "connected", G_CALLBACK (on_desktop_connected), d);
  g_signal_connect (d->server, "disconnected", G_CALLBACK (on_desktop_disconnected), d);
  g_signal_connect (d->server, "unlinked", G_CALLBACK (on_desktop_unlinked), d);
  g_signal_connect (d->server, "attempt-failed", G_CALLBACK (on_desktop_attempt_failed), d);

  /* An explicit port: with port 0, companion_desktop_server_listen() tries
   * the saved port and then the documented default port (47390) before a
   * free one, and a unit test must not take the port a running desktop uses. */
  address = g_inet_socket_address_new (loopback, port);
  g_assert_true (companion_desktop_server_listen (d->server, G_INET_SOCKET_ADDRESS (address), &error));
  g_assert_no_error (error);
  d->port = companion_desktop_server_get_port (d->server);
  g_assert_cmpuint (d->port, ==, port);
  g_assert_nonnull (companion_desktop_server_get_offer (d->server));
  g_assert_cmpuint (d->n_offers, ==, 1);
  return d;
}

static void
desktop_free (Desktop *d)
{
  g_signal_handlers_disconnect_by_data (d->server, d);
  g_clear_object (&d->server);
  test_loop_drain ();
  g_clear_object (&d->key_store);
  g_clear_pointer (&d->attempts, g_ptr_array_unref);
  g_clear_error (&d->disconnect_error);
  g_free (d->paired_name);
  g_free (d->paired_code);
  test_util_remove_tree (d->dir);
  g_free (d->dir);
  g_free (d);
}

static CompanionPairingPayload *
desktop_payload (Desktop *d)
{
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (d->server);

  g_assert_nonnull (offer);
  return g_object_ref (companion_pairing_offer_get_payload (offer));
}

/* The public key a phone pairs with and checks in KK. */
static GBytes *
desktop_public_key (Desktop *d)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionIdentity) identity = companion_key_store_load_identity (d->key_store, &error);

  g_assert_no_error (error);
  g_assert_nonnull (identity);
  return g_bytes_new (companion_identity_get_public_key (identity), COMPANION_IDENTITY_KEY_SIZE);
}

/* The last "attempt-failed" is DOMAIN/CODE and its message holds TEXT. */
static void
assert_last_attempt (Desktop    *d,
                     GQuark      domain,
                     int         code,
                     const char *text)
{
  GError *error;

  g_assert_cmpuint (d->attempts->len, >, 0);
  error = g_ptr_array_index (d->attempts, d->attempts->len - 1);
  g_assert_error (error, domain, code);
  if (text != NULL && strstr (error->message, text) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, text);
}

/* The refusal the desktop reports for CODE is the readable one. */
static void
assert_last_attempt_refused (Desktop *d,
                             gushort  code)
{
  g_autoptr(GError) expected = companion_tunnel_error_from_close (code, NULL);

  assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED, expected->message);
}

/* ---- the phone --------------------------------------------------------------- */

typedef struct
{
  char                 *dir;
  char                 *name;
  CompanionPhoneClient *client;

  guint                 n_paired;
  guint                 n_connected;
  guint                 n_disconnected;
  guint                 n_pairing_failed;
  guint                 n_unlinked;
  char                 *paired_code;
  GError               *pairing_error;
  GError               *disconnect_error;
  gboolean              unlinked_by_desktop;
} Phone;

static void
on_phone_paired (CompanionPhoneClient *client,
                 const char           *name,
                 const char           *code,
                 Phone                *p)
{
  p->n_paired++;
  g_free (p->paired_code);
  p->paired_code = g_strdup (code);
}

static void
on_phone_connected (CompanionPhoneClient *client,
                    const char           *name,
                    Phone                *p)
{
  p->n_connected++;
}

static void
on_phone_disconnected (CompanionPhoneClient *client,
                       GError               *error,
                       Phone                *p)
{
  p->n_disconnected++;
  g_clear_error (&p->disconnect_error);
  if (error != NULL)
    p->disconnect_error = g_error_copy (error);
}

static void
on_phone_pairing_failed (CompanionPhoneClient *client,
                         GError               *error,
                         Phone                *p)
{
  g_test_message ("phone: pairing failed: %s", error->message);
  p->n_pairing_failed++;
  g_clear_error (&p->pairing_error);
  p->pairing_error = g_error_copy (error);
}

static void
on_phone_unlinked (CompanionPhoneClient *client,
                   gboolean              by_desktop,
                   Phone                *p)
{
  p->n_unlinked++;
  p->unlinked_by_desktop = by_desktop;
}

/* A client on the phone's state folder (again, after phone_close()). */
static void
phone_open (Phone *p)
{
  g_autoptr(GError) error = NULL;

  p->client = companion_phone_client_new (p->dir, p->name, &error);
  g_assert_no_error (error);
  /* Quick retries, so a refused or cut session is retried within a test. */
  companion_phone_client_set_timing (p->client, COMPANION_TUNNEL_PING_INTERVAL_MS,
                                     COMPANION_TUNNEL_IDLE_TIMEOUT_MS, 50, 200);
  g_signal_connect (p->client, "paired", G_CALLBACK (on_phone_paired), p);
  g_signal_connect (p->client, "connected", G_CALLBACK (on_phone_connected), p);
  g_signal_connect (p->client, "disconnected", G_CALLBACK (on_phone_disconnected), p);
  g_signal_connect (p->client, "pairing-failed", G_CALLBACK (on_phone_pairing_failed), p);
  g_signal_connect (p->client, "unlinked", G_CALLBACK (on_phone_unlinked), p);
}

static void
phone_close (Phone *p)
{
  if (p->client == NULL)
    return;
  g_signal_handlers_disconnect_by_data (p->client, p);
  companion_phone_client_stop (p->client);
  g_clear_object (&p->client);
}

static Phone *
phone_new (const char *name)
{
  Phone *p = g_new0 (Phone, 1);

  p->dir = make_state_dir ();
  p->name = g_strdup (name);
  phone_open (p);
  return p;
}

static void
phone_free (Phone *p)
{
  phone_close (p);
  test_loop_drain ();
  g_clear_error (&p->pairing_error);
  g_clear_error (&p->disconnect_error);
  g_free (p->paired_code);
  test_util_remove_tree (p->dir);
  g_free (p->dir);
  g_free (p->name);
  g_free (p);
}

static void
assert_phone_pairing_refused (Phone  *p,
                              gushort code)
{
  g_autoptr(GError) expected = companion_tunnel_error_from_close (code, NULL);

  g_assert_nonnull (p->pairing_error);
  g_assert_error (p->pairing_error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED);
  g_assert_cmpstr (p->pairing_error->message, ==, expected->message);
}

/* Pairs P with D from D's current code and waits for the KK session that
 * follows on both sides. */
static void
pair_phone (Desktop *d,
            Phone   *p)
{
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  guint paired = d->n_paired;
  guint connected = d->n_connected;
  guint phone_connected = p->n_connected;
  guint phone_failed = p->n_pairing_failed;

  companion_phone_client_pair (p->client, payload);
  WAIT_FOR (d->n_connected > connected && p->n_connected > phone_connected);
  g_assert_cmpuint (d->n_paired, ==, paired + 1);
  g_assert_cmpuint (p->n_pairing_failed, ==, phone_failed);
}

/* ---- raw WebSocket clients ----------------------------------------------------- */

typedef struct
{
  SoupSession             *session;
  SoupWebsocketConnection *connection;
  GError                  *connect_error;
  gboolean                 connect_done;
  GQueue                   messages; /* GBytes */
  gboolean                 closed;
  gushort                  close_code;
  char                    *close_data;
} Raw;

static void
on_raw_message (SoupWebsocketConnection *connection,
                int                      type,
                GBytes                  *message,
                Raw                     *raw)
{
  g_queue_push_tail (&raw->messages, g_bytes_ref (message));
}

static void
on_raw_closed (SoupWebsocketConnection *connection,
               Raw                     *raw)
{
  raw->closed = TRUE;
  raw->close_code = soup_websocket_connection_get_close_code (connection);
  raw->close_data = g_strdup (soup_websocket_connection_get_close_data (connection));
}

static void
on_raw_connected (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Raw *raw = user_data;

  raw->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
                                                           &raw->connect_error);
  if (raw->connection != NULL)
    {
      g_signal_connect (raw->connection, "message", G_CALLBACK (on_raw_message), raw);
      g_signal_connect (raw->connection, "closed", G_CALLBACK (on_raw_closed), raw);
    }
  raw->connect_done = TRUE;
}

/* A WebSocket to PATH on the desktop's port, from LOCAL_HOST (another
 * loopback address) when not NULL. */
static Raw *
raw_connect_from (guint16     port,
                  const char *path,
                  const char *local_host)
{
  Raw *raw = g_new0 (Raw, 1);
  g_autoptr(SoupMessage) message = NULL;
  g_autofree char *uri = g_strdup_printf ("ws://127.0.0.1:%u%s", port, path);

  if (local_host != NULL)
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (local_host);
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (inet, 0);

      raw->session = soup_session_new_with_options ("local-address", local, "proxy-resolver", NULL, NULL);
    }
  else
    raw->session = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
  soup_session_remove_feature_by_type (raw->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  g_queue_init (&raw->messages);

  message = soup_message_new ("GET", uri);
  soup_session_websocket_connect_async (raw->session, message, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, on_raw_connected, raw);
  WAIT_FOR (raw->connect_done);
  g_assert_no_error (raw->connect_error);
  return raw;
}

static Raw *
raw_connect (guint16     port,
             const char *path)
{
  return raw_connect_from (port, path, NULL);
}

static void
raw_free (Raw *raw)
{
  if (raw->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (raw->connection, raw);
      if (soup_websocket_connection_get_state (raw->connection) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (raw->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  g_clear_object (&raw->connection);
  g_clear_object (&raw->session);
  g_clear_error (&raw->connect_error);
  g_queue_clear_full (&raw->messages, (GDestroyNotify) g_bytes_unref);
  g_free (raw->close_data);
  g_free (raw);
}

static void
raw_send (Raw    *raw,
          GBytes *bytes)
{
  soup_websocket_connection_send_binary (raw->connection, g_bytes_get_data (bytes, NULL),
                                         g_bytes_get_size (bytes));
}

static GBytes *
raw_next_message (Raw *raw)
{
  WAIT_FOR (raw->messages.length > 0 || raw->closed);
  g_assert_cmpuint (raw->messages.length, >, 0);
  return g_queue_pop_head (&raw->messages);
}

/* The desktop closed RAW with CODE. */
static void
raw_assert_closed_with (Raw    *raw,
                        gushort code)
{
  WAIT_FOR (raw->closed);
  g_assert_cmpuint (raw->close_code, ==, code);
}

/* ---- Noise by hand (test-handshake.c) ---------------------------------------- */

/* The first pairing message for PAYLOAD from a fresh identity. */
static GBytes *
pair_message (CompanionPairingPayload *payload,
              const char              *handshake_payload)
{
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionNoiseHandshake) handshake =
    test_handshake_pair_initiator (payload, companion_identity_get_secret_key (identity), NULL);

  return test_handshake_write (handshake, handshake_payload);
}

/* Connects to /pair, sends MESSAGE and expects the desktop to close with CODE. */
static void
assert_pair_message_refused (Desktop *d,
                             GBytes  *message,
                             gushort  code)
{
  Raw *raw = raw_connect (d->port, COMPANION_PATH_PAIR);
  guint attempts = d->attempts->len;

  raw_send (raw, message);
  raw_assert_closed_with (raw, code);
  WAIT_FOR (d->attempts->len > attempts);
  raw_free (raw);
}

/* A transport session driven by hand: KK as a given identity, then records
 * sealed by this test, so they can be altered, replayed or reordered. */
typedef struct
{
  Raw                  *raw;
  CompanionNoiseCipher *send;
  CompanionNoiseCipher *receive;
} RawSession;

static JsonObject *
raw_session_open_record (RawSession *s,
                         GBytes     *message)
{
  g_autoptr(GByteArray) plaintext = g_byte_array_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  companion_noise_cipher_decrypt (s->receive, data, len, plaintext, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plaintext->len, >, 1);
  g_assert_cmpuint (plaintext->data[0], ==, 0x01);
  json_parser_load_from_data (parser, (const char *) plaintext->data + 1, plaintext->len - 1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static GBytes *
raw_session_seal (RawSession *s,
                  const char *json)
{
  g_autoptr(GByteArray) plaintext = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  const guint8 kind = 0x01;

  g_byte_array_append (plaintext, &kind, 1);
  g_byte_array_append (plaintext, (const guint8 *) json, strlen (json));
  companion_noise_cipher_encrypt (s->send, plaintext->data, plaintext->len, out, &error);
  g_assert_no_error (error);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* KK to D's /session as the identity SECRET, expecting D's "hello". */
static RawSession *
raw_session_new (Desktop      *d,
                 const guint8 *secret,
                 const guint8 *desktop_public)
{
  RawSession *s = g_new0 (RawSession, 1);
  g_autoptr(CompanionNoiseHandshake) handshake = test_handshake_kk_initiator (secret, desktop_public);
  g_autoptr(GBytes) first = test_handshake_write (handshake, NULL);
  g_autoptr(GBytes) second = NULL;
  g_autoptr(GBytes) hello_message = NULL;
  g_autoptr(JsonObject) hello = NULL;
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guint connected = d->n_connected;

  s->raw = raw_connect (d->port, COMPANION_PATH_SESSION);
  raw_send (s->raw, first);
  second = raw_next_message (s->raw);
  companion_noise_handshake_read_message (handshake, g_bytes_get_data (second, NULL),
                                          g_bytes_get_size (second), payload, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (payload->len, ==, 0);
  g_assert_true (companion_noise_handshake_is_finished (handshake));
  companion_noise_handshake_split (handshake, &s->send, &s->receive, &error);
  g_assert_no_error (error);

  hello_message = raw_next_message (s->raw);
  hello = raw_session_open_record (s, hello_message);
  g_assert_cmpstr (json_object_get_string_member (hello, "type"), ==, "hello");
  WAIT_FOR (d->n_connected > connected);
  return s;
}

static void
raw_session_free (RawSession *s)
{
  raw_free (s->raw);
  g_clear_object (&s->send);
  g_clear_object (&s->receive);
  g_free (s);
}

/* ---- CompanionTunnel peers --------------------------------------------------- */

typedef struct
{
  CompanionTunnel *tunnel;
  gboolean         established;
  gboolean         closed;
  GError          *error;
  GPtrArray       *records; /* JsonObject */
} Peer;

static void
on_peer_established (CompanionTunnel *tunnel,
                     Peer            *peer)
{
  peer->established = TRUE;
}

static void
on_peer_record (CompanionTunnel *tunnel,
                JsonObject      *record,
                Peer            *peer)
{
  g_ptr_array_add (peer->records, json_object_ref (record));
}

static void
on_peer_closed (CompanionTunnel *tunnel,
                GError          *error,
                Peer            *peer)
{
  peer->closed = TRUE;
  if (error != NULL)
    {
      g_test_message ("tunnel closed: %s", error->message);
      peer->error = g_error_copy (error);
    }
}

static Peer *
peer_new (SoupWebsocketConnection *connection,
          CompanionNoiseHandshake *handshake)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  peer->tunnel = companion_tunnel_new (connection, handshake);
  g_signal_connect (peer->tunnel, "established", G_CALLBACK (on_peer_established), peer);
  g_signal_connect (peer->tunnel, "record", G_CALLBACK (on_peer_record), peer);
  g_signal_connect (peer->tunnel, "closed", G_CALLBACK (on_peer_closed), peer);
  return peer;
}

static void
peer_free (Peer *peer)
{
  g_signal_handlers_disconnect_by_data (peer->tunnel, peer);
  g_clear_object (&peer->tunnel);
  g_clear_pointer (&peer->records, g_ptr_array_unref);
  g_clear_error (&peer->error);
  g_free (peer);
}

/* ---- 1. happy path ----------------------------------------------------------- */

static void
test_happy_path (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Test phone");
  g_autoptr(CompanionIdentity) phone_identity = load_identity (p->dir);
  g_autoptr(GBytes) desktop_key = desktop_public_key (d);
  g_autoptr(CompanionPairingRecord) desktop_record = NULL;
  g_autoptr(CompanionPairingRecord) phone_record = NULL;
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", d->port);
  const char * const *addresses;

  g_assert_false (companion_desktop_server_is_paired (d->server));
  g_assert_false (companion_phone_client_is_paired (p->client));
  pair_phone (d, p);

  /* The same six-digit safety code on both sides. */
  g_assert_nonnull (d->paired_code);
  g_assert_cmpstr (d->paired_code, ==, p->paired_code);
  g_assert_cmpuint (strlen (d->paired_code), ==, 6);
  for (const char *c = d->paired_code; *c; c++)
    g_assert_true (g_ascii_isdigit (*c));
  g_assert_cmpstr (companion_desktop_server_get_safety_code (d->server), ==, d->paired_code);
  g_assert_cmpstr (companion_phone_client_get_safety_code (p->client), ==, d->paired_code);
  g_assert_cmpstr (d->paired_name, ==, "Test phone");
  g_assert_cmpstr (companion_desktop_server_get_phone_name (d->server), ==, "Test phone");

  g_assert_true (companion_desktop_server_is_paired (d->server));
  g_assert_true (companion_desktop_server_is_connected (d->server));
  g_assert_true (companion_phone_client_is_paired (p->client));
  g_assert_true (companion_phone_client_is_connected (p->client));
  g_assert_cmpuint (d->attempts->len, ==, 0);
  /* The code is used up: no code is shown while paired. */
  g_assert_null (companion_desktop_server_get_offer (d->server));

  /* Both pairing.json hold the peer. */
  desktop_record = load_record (d->dir);
  g_assert_nonnull (desktop_record);
  g_assert_true (companion_pairing_record_has_peer (desktop_record));
  g_assert_cmpmem (companion_pairing_record_get_peer_public_key (desktop_record), 32,
                   companion_identity_get_public_key (phone_identity), 32);
  g_assert_cmpstr (companion_pairing_record_get_peer_name (desktop_record), ==, "Test phone");
  phone_record = load_record (p->dir);
  g_assert_nonnull (phone_record);
  g_assert_true (companion_pairing_record_has_peer (phone_record));
  g_assert_cmpmem (companion_pairing_record_get_peer_public_key (phone_record), 32,
                   g_bytes_get_data (desktop_key, NULL), 32);
  addresses = companion_pairing_record_get_addresses (phone_record);
  g_assert_nonnull (addresses);
  g_assert_true (g_strv_contains (addresses, address));

  /* A later start needs no code: KK from what is stored. */
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 1);
  g_assert_no_error (d->disconnect_error); /* the phone closed cleanly */
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (d->n_connected == 2 && p->n_connected == 1);
  g_assert_cmpuint (d->n_paired, ==, 1);

  phone_free (p);
  desktop_free (d);
}

/* ---- 2. wrong secret --------------------------------------------------------- */

static void
test_wrong_secret (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Wrong secret");
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  g_autoptr(CompanionPairingPayload) altered = NULL;
  g_autoptr(CompanionIdentity) intruder = companion_identity_generate ();
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GError) error = NULL;
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (d->server);
  guint8 psk[COMPANION_PAIRING_PSK_SIZE];
  Raw *raw;
  Peer *peer;

  memcpy (psk, companion_pairing_payload_get_psk (payload), sizeof psk);
  psk[7] ^= 0x20;

  /* A phone that read the psk wrong: the prologue hashes the whole code as
   * the phone read it, so the desktop cannot even open the first message and
   * does not recognise the code. */
  altered = companion_pairing_payload_new (companion_pairing_payload_get_public_key (payload), psk,
                                           companion_pairing_payload_get_addresses (payload), &error);
  g_assert_no_error (error);
  companion_phone_client_pair (p->client, altered);
  WAIT_FOR (p->n_pairing_failed == 1 && d->attempts->len == 1);
  assert_phone_pairing_refused (p, COMPANION_CLOSE_UNKNOWN_CODE);
  assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_CODE);

  /* The right code (key, address, prologue) but a wrong psk: the desktop
   * answers, the phone's handshake fails on the psk, and the desktop only
   * sees that no confirmation came. */
  raw = raw_connect (d->port, COMPANION_PATH_PAIR);
  handshake = test_handshake_pair_initiator (payload, companion_identity_get_secret_key (intruder), psk);
  peer = peer_new (raw->connection, handshake);
  companion_tunnel_start (peer->tunnel);
  WAIT_FOR (peer->closed && d->attempts->len == 2);
  g_assert_false (peer->established);
  g_assert_error (peer->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED);
  g_assert_nonnull (strstr (peer->error->message, "pairing secret do not match"));
  raw_assert_closed_with (raw, COMPANION_CLOSE_HANDSHAKE_FAILED);
  assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                       "did not confirm the pairing");
  peer_free (peer);
  raw_free (raw);

  /* Nothing was stored, the code was not spent, and the phone is unpaired. */
  g_assert_false (companion_desktop_server_is_paired (d->server));
  g_assert_cmpuint (d->n_paired, ==, 0);
  assert_no_peer_stored (d->dir);
  g_assert_true (companion_desktop_server_get_offer (d->server) == offer);
  g_assert_false (companion_phone_client_is_paired (p->client));
  assert_no_peer_stored (p->dir);

  /* The code as shown still pairs. */
  pair_phone (d, p);

  phone_free (p);
  desktop_free (d);
}

/* ---- 3. another desktop's code ----------------------------------------------- */

static void
test_other_desktop (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Other desktop");
  g_autoptr(GPtrArray) addresses = companion_desktop_server_dup_addresses (d->server);
  g_autoptr(CompanionPairingOffer) other = companion_pairing_offer_new (addresses, NULL);
  CompanionPairingPayload *payload;
  g_autoptr(GBytes) message = NULL;

  g_assert_nonnull (other);
  payload = companion_pairing_offer_get_payload (other);

  companion_phone_client_pair (p->client, payload);
  WAIT_FOR (p->n_pairing_failed == 1 && d->attempts->len == 1);
  assert_phone_pairing_refused (p, COMPANION_CLOSE_UNKNOWN_CODE);
  assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_CODE);

  message = pair_message (payload, NULL);
  assert_pair_message_refused (d, message, COMPANION_CLOSE_UNKNOWN_CODE);

  g_assert_false (companion_desktop_server_is_paired (d->server));
  assert_no_peer_stored (d->dir);
  g_assert_false (companion_phone_client_is_paired (p->client));
  assert_no_peer_stored (p->dir);

  phone_free (p);
  desktop_free (d);
}

/* ---- 4. expired code ----------------------------------------------------------- */

static void
test_expired_code (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Expired");
  g_autoptr(CompanionPairingPayload) old = NULL;
  g_autoptr(GBytes) message = NULL;
  guint offers;

  companion_desktop_server_set_offer_lifetime (d->server, 150);
  old = desktop_payload (d);
  offers = d->n_offers;
  WAIT_FOR (d->n_offers > offers);
  /* Stop rotating, so the old code stays among the remembered ones. */
  companion_desktop_server_set_offer_lifetime (d->server, COMPANION_OFFER_LIFETIME_MS);
  {
    g_autoptr(CompanionPairingPayload) current = desktop_payload (d);

    g_assert_true (memcmp (companion_pairing_payload_get_public_key (old),
                           companion_pairing_payload_get_public_key (current), 32) != 0);
  }

  companion_phone_client_pair (p->client, old);
  WAIT_FOR (p->n_pairing_failed == 1 && d->attempts->len == 1);
  assert_phone_pairing_refused (p, COMPANION_CLOSE_CODE_EXPIRED);
  g_assert_nonnull (strstr (p->pairing_error->message, "expired"));
  assert_last_attempt_refused (d, COMPANION_CLOSE_CODE_EXPIRED);

  message = pair_message (old, NULL);
  assert_pair_message_refused (d, message, COMPANION_CLOSE_CODE_EXPIRED);

  g_assert_false (companion_desktop_server_is_paired (d->server));
  assert_no_peer_stored (d->dir);
  g_assert_false (companion_phone_client_is_paired (p->client));
  assert_no_peer_stored (p->dir);

  phone_free (p);
  desktop_free (d);
}

/* A handshake started before the code rotates may still finish; the code is
 * then used, and a newer code is withdrawn while paired. */
static void
test_rotation_during_handshake (void)
{
  Desktop *d = desktop_new ();
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(GBytes) confirm = NULL;
  g_autoptr(GBytes) welcome_message = NULL;
  g_autoptr(GBytes) replay = NULL;
  g_autoptr(JsonObject) welcome = NULL;
  g_autoptr(GByteArray) payload_out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPairingRecord) record = NULL;
  RawSession s = { NULL, NULL, NULL };
  guint offers;

  handshake = test_handshake_pair_initiator (payload, companion_identity_get_secret_key (identity), NULL);
  first = test_handshake_write (handshake, NULL);
  s.raw = raw_connect (d->port, COMPANION_PATH_PAIR);
  raw_send (s.raw, first);
  second = raw_next_message (s.raw);
  companion_noise_handshake_read_message (handshake, g_bytes_get_data (second, NULL),
                                          g_bytes_get_size (second), payload_out, &error);
  g_assert_no_error (error);
  companion_noise_handshake_split (handshake, &s.send, &s.receive, &error);
  g_assert_no_error (error);

  /* The code rotates (setting the lifetime starts a new one). */
  offers = d->n_offers;
  companion_desktop_server_set_offer_lifetime (d->server, COMPANION_OFFER_LIFETIME_MS);
  g_assert_cmpuint (d->n_offers, ==, offers + 1);

  confirm = raw_session_seal (&s, "{\"type\":\"confirm\",\"name\":\"Late phone\"}");
  raw_send (s.raw, confirm);
  WAIT_FOR (d->n_paired == 1);
  g_assert_cmpstr (d->paired_name, ==, "Late phone");
  welcome_message = raw_next_message (s.raw);
  welcome = raw_session_open_record (&s, welcome_message);
  g_assert_cmpstr (json_object_get_string_member (welcome, "type"), ==, "welcome");
  raw_assert_closed_with (s.raw, COMPANION_CLOSE_NORMAL);
  g_assert_cmpuint (d->attempts->len, ==, 0);
  g_assert_null (companion_desktop_server_get_offer (d->server));
  record = load_record (d->dir);
  g_assert_true (companion_pairing_record_has_peer (record));
  g_assert_cmpmem (companion_pairing_record_get_peer_public_key (record), 32,
                   companion_identity_get_public_key (identity), 32);

  /* Unlinked, the code is refused as used, not as expired. */
  g_assert_true (companion_desktop_server_unlink (d->server, NULL));
  replay = pair_message (payload, NULL);
  assert_pair_message_refused (d, replay, COMPANION_CLOSE_CODE_USED);

  raw_free (s.raw);
  g_clear_object (&s.send);
  g_clear_object (&s.receive);
  desktop_free (d);
}

/* ---- 5. used code ---------------------------------------------------------------- */

static void
test_used_code (void)
{
  Desktop *d = desktop_new ();
  Phone *first = phone_new ("First phone");
  Phone *second = phone_new ("Second phone");
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  g_autoptr(CompanionIdentity) first_identity = load_identity (first->dir);
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *stored_after = NULL;

  pair_phone (d, first);
  stored = read_record_file (d->dir);

  /* Still paired: the desktop says so before looking at the code. */
  companion_phone_client_pair (second->client, payload);
  WAIT_FOR (second->n_pairing_failed == 1 && d->attempts->len == 1);
  assert_phone_pairing_refused (second, COMPANION_CLOSE_ALREADY_PAIRED);
  assert_last_attempt_refused (d, COMPANION_CLOSE_ALREADY_PAIRED);
  message = pair_message (payload, NULL);
  assert_pair_message_refused (d, message, COMPANION_CLOSE_ALREADY_PAIRED);
  stored_after = read_record_file (d->dir);
  g_assert_cmpstr (stored_after, ==, stored);
  g_assert_true (companion_desktop_server_is_connected (d->server));

  /* Unlinked, pairing is allowed again, but only with a fresh code. */
  g_assert_true (companion_desktop_server_unlink (d->server, NULL));
  WAIT_FOR (first->n_unlinked == 1);
  g_assert_nonnull (companion_desktop_server_get_offer (d->server));

  companion_phone_client_pair (second->client, payload);
  WAIT_FOR (second->n_pairing_failed == 2 && d->attempts->len == 3);
  assert_phone_pairing_refused (second, COMPANION_CLOSE_CODE_USED);
  assert_last_attempt_refused (d, COMPANION_CLOSE_CODE_USED);
  g_clear_pointer (&message, g_bytes_unref);
  message = pair_message (payload, NULL);
  assert_pair_message_refused (d, message, COMPANION_CLOSE_CODE_USED);

  g_assert_false (companion_desktop_server_is_paired (d->server));
  record = load_record (d->dir);
  g_assert_false (companion_pairing_record_has_peer (record));
  g_assert_cmpuint (companion_pairing_record_get_n_denied (record), ==, 1);
  g_assert_true (companion_pairing_record_is_denied (record, companion_identity_get_public_key (first_identity)));
  g_assert_false (companion_phone_client_is_paired (second->client));
  assert_no_peer_stored (second->dir);

  /* The fresh code pairs the second phone. */
  pair_phone (d, second);

  phone_free (first);
  phone_free (second);
  desktop_free (d);
}

/* ---- 6. malformed handshake messages -------------------------------------------- */

static void
test_malformed_handshake (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Malformed");
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  g_autoptr(CompanionIdentity) phone_identity = NULL;
  g_autoptr(GBytes) desktop_key = NULL;
  g_autoptr(GBytes) valid = pair_message (payload, NULL);
  g_autoptr(GBytes) truncated = g_bytes_new_from_bytes (valid, 0, g_bytes_get_size (valid) - 20);
  g_autoptr(GBytes) garbage = test_handshake_random_bytes (g_bytes_get_size (valid));
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) with_payload = pair_message (payload, "hello");
  g_autoptr(GBytes) kk_truncated = NULL;
  g_autoptr(GBytes) kk_with_payload = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *stored_after = NULL;
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (d->server);

  g_assert_cmpuint (g_bytes_get_size (valid), ==, 96);

  assert_pair_message_refused (d, truncated, COMPANION_CLOSE_UNKNOWN_CODE);
  assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_CODE);
  assert_pair_message_refused (d, garbage, COMPANION_CLOSE_UNKNOWN_CODE);
  assert_pair_message_refused (d, empty, COMPANION_CLOSE_UNKNOWN_CODE);
  /* Nothing may be said before authentication. */
  assert_pair_message_refused (d, with_payload, COMPANION_CLOSE_PROTOCOL);
  assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                       "data in a handshake message");

  g_assert_false (companion_desktop_server_is_paired (d->server));
  assert_no_peer_stored (d->dir);
  g_assert_true (companion_desktop_server_get_offer (d->server) == offer);
  g_assert_cmpuint (d->n_paired, ==, 0);

  /* The same on /session, from the paired phone's own identity. */
  pair_phone (d, p);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 1);
  stored = read_record_file (d->dir);
  phone_identity = load_identity (p->dir);
  desktop_key = desktop_public_key (d);
  {
    g_autoptr(CompanionNoiseHandshake) a = test_handshake_kk_initiator (companion_identity_get_secret_key (phone_identity),
                                                         g_bytes_get_data (desktop_key, NULL));
    g_autoptr(CompanionNoiseHandshake) b = test_handshake_kk_initiator (companion_identity_get_secret_key (phone_identity),
                                                         g_bytes_get_data (desktop_key, NULL));
    g_autoptr(GBytes) whole = test_handshake_write (a, NULL);

    kk_truncated = g_bytes_new_from_bytes (whole, 0, g_bytes_get_size (whole) - 1);
    kk_with_payload = test_handshake_write (b, "hello");
  }
  {
    Raw *raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    guint attempts = d->attempts->len;

    raw_send (raw, kk_truncated);
    raw_assert_closed_with (raw, COMPANION_CLOSE_UNKNOWN_IDENTITY);
    WAIT_FOR (d->attempts->len > attempts);
    assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_IDENTITY);
    raw_free (raw);

    raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    attempts = d->attempts->len;
    raw_send (raw, kk_with_payload);
    raw_assert_closed_with (raw, COMPANION_CLOSE_PROTOCOL);
    WAIT_FOR (d->attempts->len > attempts);
    assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                         "data in a handshake message");
    raw_free (raw);
  }
  g_assert_cmpuint (d->n_connected, ==, 1);
  stored_after = read_record_file (d->dir);
  g_assert_cmpstr (stored_after, ==, stored);

  /* No code is shown while paired; none was created by the attempts. */
  g_assert_null (companion_desktop_server_get_offer (d->server));

  phone_free (p);
  desktop_free (d);
}

/* ---- 7. transport tampering ------------------------------------------------------ */

typedef enum
{
  TAMPER_FLIP,
  TAMPER_REPLAY,
  TAMPER_REORDER,
  TAMPER_CLOSE_WITHOUT_RECORD,
  TAMPER_CUT,
} Tamper;

static void
test_transport_tampering (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Tampering");
  g_autoptr(CompanionIdentity) phone_identity = NULL;
  g_autoptr(CompanionPairingRecord) phone_record = NULL;
  const guint8 *desktop_key;
  g_autofree char *stored = NULL;
  g_autofree char *stored_after = NULL;
  const struct {
    Tamper      tamper;
    int         code;
    const char *text;
  } cases[] = {
    { TAMPER_FLIP, COMPANION_TUNNEL_ERROR_DECRYPT_FAILED, "Message 1 failed to decrypt" },
    { TAMPER_REPLAY, COMPANION_TUNNEL_ERROR_DECRYPT_FAILED, "Message 2 failed to decrypt" },
    { TAMPER_REORDER, COMPANION_TUNNEL_ERROR_DECRYPT_FAILED, "Message 1 failed to decrypt" },
    { TAMPER_CLOSE_WITHOUT_RECORD, COMPANION_TUNNEL_ERROR_CONNECTION_LOST, "lost" },
    { TAMPER_CUT, COMPANION_TUNNEL_ERROR_CONNECTION_LOST, NULL },
  };

  pair_phone (d, p);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 1);
  g_assert_no_error (d->disconnect_error);

  phone_identity = load_identity (p->dir);
  phone_record = load_record (p->dir);
  desktop_key = companion_pairing_record_get_peer_public_key (phone_record);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RawSession *s = raw_session_new (d, companion_identity_get_secret_key (phone_identity), desktop_key);
      g_autoptr(GBytes) one = raw_session_seal (s, "{\"type\":\"test\",\"n\":1}");
      g_autoptr(GBytes) two = raw_session_seal (s, "{\"type\":\"test\",\"n\":2}");
      guint disconnected = d->n_disconnected;

      g_test_message ("tampering case %u", i);
      switch (cases[i].tamper)
        {
        case TAMPER_FLIP:
          {
            g_autoptr(GByteArray) flipped = g_byte_array_new ();

            g_byte_array_append (flipped, g_bytes_get_data (one, NULL), g_bytes_get_size (one));
            flipped->data[flipped->len / 2] ^= 0x01;
            soup_websocket_connection_send_binary (s->raw->connection, flipped->data, flipped->len);
          }
          break;
        case TAMPER_REPLAY:
          raw_send (s->raw, one);
          raw_send (s->raw, one);
          break;
        case TAMPER_REORDER:
          raw_send (s->raw, two);
          raw_send (s->raw, one);
          break;
        case TAMPER_CLOSE_WITHOUT_RECORD:
          raw_send (s->raw, one);
          raw_send (s->raw, two);
          soup_websocket_connection_close (s->raw->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
          break;
        case TAMPER_CUT:
          raw_send (s->raw, one);
          /* The TCP connection goes away without any WebSocket close. */
          g_signal_handlers_disconnect_by_data (s->raw->connection, s->raw);
          g_object_run_dispose (G_OBJECT (s->raw->connection));
          break;
        default:
          g_assert_not_reached ();
        }

      WAIT_FOR (d->n_disconnected > disconnected);
      g_assert_error (d->disconnect_error, COMPANION_TUNNEL_ERROR, cases[i].code);
      if (cases[i].text != NULL && strstr (d->disconnect_error->message, cases[i].text) == NULL)
        g_error ("“%s” does not contain “%s”", d->disconnect_error->message, cases[i].text);
      if (cases[i].code == COMPANION_TUNNEL_ERROR_DECRYPT_FAILED)
        raw_assert_closed_with (s->raw, COMPANION_CLOSE_PROTOCOL);
      g_assert_false (companion_desktop_server_is_connected (d->server));
      g_assert_true (companion_desktop_server_is_paired (d->server));
      raw_session_free (s);
    }

  /* A proper session with a close record ends cleanly. */
  {
    RawSession *s = raw_session_new (d, companion_identity_get_secret_key (phone_identity), desktop_key);
    g_autoptr(GBytes) one = raw_session_seal (s, "{\"type\":\"test\"}");
    g_autoptr(GBytes) bye = raw_session_seal (s, "{\"type\":\"close\"}");
    guint disconnected = d->n_disconnected;

    raw_send (s->raw, one);
    raw_send (s->raw, bye);
    soup_websocket_connection_close (s->raw->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    WAIT_FOR (d->n_disconnected > disconnected);
    g_assert_no_error (d->disconnect_error);
    raw_session_free (s);
  }

  /* The pairing survived all of it: the phone connects again. */
  stored = read_record_file (d->dir);
  g_assert_nonnull (stored);
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (p->n_connected == 1 && companion_desktop_server_is_connected (d->server));
  stored_after = read_record_file (d->dir);
  g_assert_nonnull (stored_after);

  phone_free (p);
  desktop_free (d);
}

/* ---- 8. frames before authentication ------------------------------------------- */

static void
test_preauth_frames (void)
{
  Desktop *d = desktop_new ();
  const char *paths[] = { COMPANION_PATH_PAIR, COMPANION_PATH_SESSION };
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (d->server);

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      Raw *raw = raw_connect (d->port, paths[i]);
      g_autoptr(GBytes) big = test_handshake_random_bytes (COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT + 1);
      guint attempts = d->attempts->len;

      raw_send (raw, big);
      WAIT_FOR (raw->closed && d->attempts->len > attempts);
      assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_FRAME_TOO_LARGE,
                           "larger than 512 bytes");
      raw_free (raw);

      raw = raw_connect (d->port, paths[i]);
      attempts = d->attempts->len;
      soup_websocket_connection_send_text (raw->connection, "hello");
      raw_assert_closed_with (raw, COMPANION_CLOSE_PROTOCOL);
      WAIT_FOR (d->attempts->len > attempts);
      assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_TEXT_FRAME, "text frame");
      raw_free (raw);
    }

  g_assert_cmpuint (d->attempts->len, ==, 4);
  g_assert_false (companion_desktop_server_is_paired (d->server));
  assert_no_peer_stored (d->dir);
  g_assert_true (companion_desktop_server_get_offer (d->server) == offer);

  desktop_free (d);
}

/* ---- 9. garbage and unknown identities on /session ------------------------------ */

static void
test_session_refusals (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Session refusals");
  g_autoptr(CompanionIdentity) stranger = companion_identity_generate ();
  g_autoptr(GBytes) garbage = test_handshake_random_bytes (64);
  g_autoptr(GBytes) desktop_key = desktop_public_key (d);
  g_autofree char *stored = NULL;
  g_autofree char *stored_after = NULL;
  Raw *raw;

  /* Not paired yet: every session is refused as such. */
  raw = raw_connect (d->port, COMPANION_PATH_SESSION);
  raw_send (raw, garbage);
  raw_assert_closed_with (raw, COMPANION_CLOSE_NOT_PAIRED);
  WAIT_FOR (d->attempts->len == 1);
  assert_last_attempt_refused (d, COMPANION_CLOSE_NOT_PAIRED);
  raw_free (raw);

  pair_phone (d, p);
  stored = read_record_file (d->dir);

  raw = raw_connect (d->port, COMPANION_PATH_SESSION);
  raw_send (raw, garbage);
  raw_assert_closed_with (raw, COMPANION_CLOSE_UNKNOWN_IDENTITY);
  WAIT_FOR (d->attempts->len == 2);
  assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_IDENTITY);
  raw_free (raw);

  /* A well-formed KK from an identity the desktop never paired with. */
  {
    g_autoptr(CompanionNoiseHandshake) handshake =
      test_handshake_kk_initiator (companion_identity_get_secret_key (stranger), g_bytes_get_data (desktop_key, NULL));
    Peer *peer;

    raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    peer = peer_new (raw->connection, handshake);
    companion_tunnel_start (peer->tunnel);
    WAIT_FOR (peer->closed && d->attempts->len == 3);
    g_assert_false (peer->established);
    g_assert_error (peer->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED);
    g_assert_nonnull (strstr (peer->error->message, "does not recognise this phone"));
    raw_assert_closed_with (raw, COMPANION_CLOSE_UNKNOWN_IDENTITY);
    assert_last_attempt_refused (d, COMPANION_CLOSE_UNKNOWN_IDENTITY);
    peer_free (peer);
    raw_free (raw);
  }

  /* The paired phone's session was not disturbed, nor what is stored. */
  g_assert_true (companion_desktop_server_is_connected (d->server));
  g_assert_true (companion_phone_client_is_connected (p->client));
  g_assert_cmpuint (d->n_disconnected, ==, 0);
  stored_after = read_record_file (d->dir);
  g_assert_cmpstr (stored_after, ==, stored);

  phone_free (p);
  desktop_free (d);
}

/* ---- 10. limits on unauthenticated connections ---------------------------------- */

static guint
count_open (Raw **raws,
            guint n)
{
  guint open = 0;

  for (guint i = 0; i < n; i++)
    if (!raws[i]->closed)
      open++;
  return open;
}

static void
test_limits (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Limits");
  Raw *raws[12];
  const char *hosts[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
  guint n = G_N_ELEMENTS (raws);

  pair_phone (d, p);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 1);

  /* Twelve silent connections from one address: the per-address cap keeps
   * the newest COMPANION_MAX_UNAUTHENTICATED_PER_HOST, the older ones are
   * closed oldest first. */
  for (guint i = 0; i < n; i++)
    raws[i] = raw_connect (d->port, COMPANION_PATH_SESSION);
  WAIT_FOR (count_open (raws, n) == COMPANION_MAX_UNAUTHENTICATED_PER_HOST &&
            d->attempts->len == n - COMPANION_MAX_UNAUTHENTICATED_PER_HOST);
  for (guint i = 0; i < n; i++)
    {
      if (i < n - COMPANION_MAX_UNAUTHENTICATED_PER_HOST)
        raw_assert_closed_with (raws[i], COMPANION_CLOSE_TOO_MANY);
      else
        g_assert_false (raws[i]->closed);
    }
  assert_last_attempt_refused (d, COMPANION_CLOSE_TOO_MANY);

  /* The paired phone still gets in, from the flooded address. */
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (p->n_connected == 1 && d->n_connected == 2);
  /* Its connection took the place of the oldest one left. */
  raw_assert_closed_with (raws[n - COMPANION_MAX_UNAUTHENTICATED_PER_HOST], COMPANION_CLOSE_TOO_MANY);
  g_assert_cmpuint (count_open (raws, n), ==, COMPANION_MAX_UNAUTHENTICATED_PER_HOST - 1);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 2);
  for (guint i = 0; i < n; i++)
    raw_free (raws[i]);
  test_loop_drain ();

  /* From several addresses: the total cap, oldest evicted first. */
  g_ptr_array_set_size (d->attempts, 0);
  for (guint i = 0; i < n; i++)
    raws[i] = raw_connect_from (d->port, COMPANION_PATH_PAIR, hosts[i / 4]);
  WAIT_FOR (count_open (raws, n) == COMPANION_MAX_UNAUTHENTICATED &&
            d->attempts->len == n - COMPANION_MAX_UNAUTHENTICATED);
  for (guint i = 0; i < n; i++)
    {
      if (i < n - COMPANION_MAX_UNAUTHENTICATED)
        raw_assert_closed_with (raws[i], COMPANION_CLOSE_TOO_MANY);
      else
        g_assert_false (raws[i]->closed);
    }
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (p->n_connected == 2 && d->n_connected == 3);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 3);
  for (guint i = 0; i < n; i++)
    raw_free (raws[i]);
  test_loop_drain ();

  /* The handshake deadline closes a silent connection. */
  companion_desktop_server_set_timing (d->server, 300, COMPANION_TUNNEL_IDLE_TIMEOUT_MS);
  {
    Raw *raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    gint64 start = g_get_monotonic_time ();
    guint attempts = d->attempts->len;

    raw_assert_closed_with (raw, COMPANION_CLOSE_HANDSHAKE_TIMEOUT);
    g_assert_cmpint (g_get_monotonic_time () - start, >=, 250 * 1000);
    WAIT_FOR (d->attempts->len > attempts);
    assert_last_attempt_refused (d, COMPANION_CLOSE_HANDSHAKE_TIMEOUT);
    raw_free (raw);
  }

  phone_free (p);
  desktop_free (d);
}

/* A phone that completes the pairing handshake but never confirms it is
 * dropped at the deadline, and nothing is stored. */
static void
test_confirm_deadline (void)
{
  Desktop *d = desktop_new ();
  g_autoptr(CompanionPairingPayload) payload = desktop_payload (d);
  g_autoptr(CompanionIdentity) identity = companion_identity_generate ();
  g_autoptr(CompanionNoiseHandshake) handshake = NULL;
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(GByteArray) payload_out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  Raw *raw;

  companion_desktop_server_set_timing (d->server, 300, COMPANION_TUNNEL_IDLE_TIMEOUT_MS);
  handshake = test_handshake_pair_initiator (payload, companion_identity_get_secret_key (identity), NULL);
  first = test_handshake_write (handshake, NULL);
  raw = raw_connect (d->port, COMPANION_PATH_PAIR);
  raw_send (raw, first);
  second = raw_next_message (raw);
  companion_noise_handshake_read_message (handshake, g_bytes_get_data (second, NULL),
                                          g_bytes_get_size (second), payload_out, &error);
  g_assert_no_error (error);
  g_assert_true (companion_noise_handshake_is_finished (handshake));

  raw_assert_closed_with (raw, COMPANION_CLOSE_HANDSHAKE_TIMEOUT);
  WAIT_FOR (d->attempts->len == 1);
  assert_last_attempt (d, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
                       "did not confirm the pairing in time");
  g_assert_false (companion_desktop_server_is_paired (d->server));
  assert_no_peer_stored (d->dir);
  raw_free (raw);

  desktop_free (d);
}

/* ---- 11. unlinking -------------------------------------------------------------- */

static void
test_unlink_from_desktop (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Unlinked by desktop");
  g_autoptr(CompanionIdentity) old_identity = load_identity (p->dir);
  g_autoptr(CompanionIdentity) new_identity = NULL;
  g_autoptr(GBytes) old_desktop_key = desktop_public_key (d);
  g_autoptr(GBytes) new_desktop_key = NULL;
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(CompanionPairingPayload) fresh = NULL;

  pair_phone (d, p);
  g_assert_true (companion_desktop_server_unlink (d->server, NULL));
  g_assert_cmpuint (d->n_unlinked, ==, 1);
  g_assert_false (d->unlinked_by_phone);
  WAIT_FOR (p->n_unlinked == 1);
  g_assert_true (p->unlinked_by_desktop);
  g_assert_false (companion_phone_client_is_paired (p->client));
  g_assert_false (companion_phone_client_is_connected (p->client));
  assert_no_peer_stored (p->dir);
  /* Both identities were replaced. */
  new_identity = load_identity (p->dir);
  g_assert_false (companion_identity_equal (old_identity, new_identity));
  new_desktop_key = desktop_public_key (d);
  g_assert_false (g_bytes_equal (old_desktop_key, new_desktop_key));
  /* The desktop denies the old phone key and shows a code again. */
  record = load_record (d->dir);
  g_assert_false (companion_pairing_record_has_peer (record));
  g_assert_true (companion_pairing_record_is_denied (record, companion_identity_get_public_key (old_identity)));
  g_assert_nonnull (companion_desktop_server_get_offer (d->server));
  g_assert_cmpuint (d->n_disconnected, ==, 0);

  /* The old identity, KK as before: the desktop is paired with no one. */
  {
    g_autoptr(CompanionNoiseHandshake) handshake =
      test_handshake_kk_initiator (companion_identity_get_secret_key (old_identity), g_bytes_get_data (old_desktop_key, NULL));
    Raw *raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    Peer *peer = peer_new (raw->connection, handshake);

    companion_tunnel_start (peer->tunnel);
    WAIT_FOR (peer->closed);
    raw_assert_closed_with (raw, COMPANION_CLOSE_NOT_PAIRED);
    g_assert_error (peer->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED);
    peer_free (peer);
    raw_free (raw);
  }

  /* Nor can it pair again, even with a fresh code. */
  fresh = desktop_payload (d);
  {
    g_autoptr(CompanionNoiseHandshake) handshake =
      test_handshake_pair_initiator (fresh, companion_identity_get_secret_key (old_identity), NULL);
    g_autoptr(GBytes) message = test_handshake_write (handshake, NULL);

    assert_pair_message_refused (d, message, COMPANION_CLOSE_UNLINKED);
    assert_last_attempt_refused (d, COMPANION_CLOSE_UNLINKED);
  }
  g_assert_false (companion_desktop_server_is_paired (d->server));

  /* The phone, with its new identity, pairs through the fresh code; then the
   * old identity is a stranger. */
  pair_phone (d, p);
  {
    g_autoptr(GBytes) desktop_key = desktop_public_key (d);
    g_autoptr(CompanionNoiseHandshake) handshake =
      test_handshake_kk_initiator (companion_identity_get_secret_key (old_identity), g_bytes_get_data (desktop_key, NULL));
    Raw *raw = raw_connect (d->port, COMPANION_PATH_SESSION);
    Peer *peer = peer_new (raw->connection, handshake);

    companion_tunnel_start (peer->tunnel);
    WAIT_FOR (peer->closed);
    raw_assert_closed_with (raw, COMPANION_CLOSE_UNKNOWN_IDENTITY);
    peer_free (peer);
    raw_free (raw);
  }
  g_assert_true (companion_desktop_server_is_connected (d->server));

  phone_free (p);
  desktop_free (d);
}

static void
test_unlink_from_phone (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Unlinked by phone");
  g_autoptr(CompanionIdentity) phone_identity = load_identity (p->dir);
  g_autoptr(CompanionPairingRecord) record = NULL;

  pair_phone (d, p);
  g_assert_true (companion_phone_client_unlink (p->client, NULL));
  g_assert_cmpuint (p->n_unlinked, ==, 1);
  g_assert_false (p->unlinked_by_desktop);
  g_assert_false (companion_phone_client_is_paired (p->client));
  assert_no_peer_stored (p->dir);

  WAIT_FOR (d->n_unlinked == 1);
  g_assert_true (d->unlinked_by_phone);
  g_assert_false (companion_desktop_server_is_paired (d->server));
  g_assert_false (companion_desktop_server_is_connected (d->server));
  record = load_record (d->dir);
  g_assert_false (companion_pairing_record_has_peer (record));
  g_assert_cmpuint (companion_pairing_record_get_n_denied (record), ==, 1);
  g_assert_cmpmem (companion_pairing_record_get_denied (record, 0), 32,
                   companion_identity_get_public_key (phone_identity), 32);
  g_assert_nonnull (companion_desktop_server_get_offer (d->server));

  phone_free (p);
  desktop_free (d);
}

/* Someone at the desktop's address who closes every session at once with
 * CODE, before any handshake: a close code there is not authenticated. */
typedef struct
{
  gushort    code;
  guint      connections;
  GPtrArray *held;   /* the connections, kept until closed */
} Impostor;

static void
on_impostor_websocket (SoupServer              *server,
                       SoupServerMessage       *message,
                       const char              *path,
                       SoupWebsocketConnection *connection,
                       Impostor                *impostor)
{
  impostor->connections++;
  g_ptr_array_add (impostor->held, g_object_ref (connection));
  soup_websocket_connection_close (connection, impostor->code, "advisory");
}

/* Close codes before authentication are advisory: a paired phone told
 * "unlinked", "not paired", "unknown identity", "already paired" or
 * "replaced" by whoever answers at the desktop's address forgets nothing
 * and keeps trying; the real desktop then gets it back. */
static void
test_advisory_close_codes (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Advisory");
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = NULL;
  const gushort codes[] = { COMPANION_CLOSE_UNLINKED, COMPANION_CLOSE_NOT_PAIRED, COMPANION_CLOSE_UNKNOWN_IDENTITY,
                            COMPANION_CLOSE_ALREADY_PAIRED, COMPANION_CLOSE_REPLACED };
  g_autofree char *desktop_dir = NULL;

  pair_phone (d, p);
  phone_close (p);
  address = g_inet_socket_address_new (loopback, d->port);
  /* The desktop goes away; its folder stays for its return. */
  desktop_dir = g_strdup (d->dir);
  g_signal_handlers_disconnect_by_data (d->server, d);
  g_clear_object (&d->server);
  test_loop_drain ();

  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      Impostor impostor = { codes[i], 0, g_ptr_array_new_with_free_func (g_object_unref) };
      g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
      g_autoptr(CompanionPairingRecord) record = NULL;
      g_autoptr(GError) error = NULL;

      soup_server_remove_websocket_extension (server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
      soup_server_add_websocket_handler (server, COMPANION_PATH_SESSION, NULL, NULL,
                                         (SoupServerWebsocketCallback) on_impostor_websocket, &impostor, NULL);
      g_assert_true (soup_server_listen (server, address, 0, &error));
      g_assert_no_error (error);

      phone_open (p);
      g_assert_true (companion_phone_client_connect (p->client, NULL));
      /* Refused, then tried again: nothing was acted on. */
      WAIT_FOR (impostor.connections >= 3);
      g_assert_cmpuint (p->n_unlinked, ==, 0);
      g_assert_true (companion_phone_client_is_paired (p->client));
      phone_close (p);
      record = load_record (p->dir);
      g_assert_nonnull (record);
      g_assert_true (companion_pairing_record_has_peer (record));

      soup_server_disconnect (server);
      test_loop_drain ();
      g_ptr_array_unref (impostor.held);
    }

  /* The real desktop is back at its address: the phone is its phone still. */
  {
    g_autoptr(GError) error = NULL;
    guint connected = p->n_connected;

    d->server = companion_desktop_server_new (desktop_dir, d->key_store, &error);
    g_assert_no_error (error);
    g_signal_connect (d->server, "connected", G_CALLBACK (on_desktop_connected), d);
    g_assert_true (companion_desktop_server_listen (d->server, G_INET_SOCKET_ADDRESS (address), &error));
    g_assert_no_error (error);
    phone_open (p);
    g_assert_true (companion_phone_client_connect (p->client, NULL));
    WAIT_FOR (p->n_connected > connected && companion_desktop_server_is_connected (d->server));
  }

  phone_free (p);
  desktop_free (d);
}

/* ---- 12. keepalive ---------------------------------------------------------------- */

static void
test_keepalive (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Keepalive");

  pair_phone (d, p);
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 1);

  /* The desktop closes after 400 ms of silence; the phone pings every
   * 100 ms, so 1.2 s go by without a close. */
  companion_desktop_server_set_timing (d->server, COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS, 400);
  phone_open (p);
  companion_phone_client_set_timing (p->client, 100, 400, 50, 200);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (p->n_connected == 2 && d->n_connected == 2);
  test_loop_spin (1200);
  g_assert_cmpuint (d->n_disconnected, ==, 1);
  g_assert_cmpuint (p->n_disconnected, ==, 0);
  g_assert_true (companion_desktop_server_is_connected (d->server));
  g_assert_true (companion_phone_client_is_connected (p->client));
  phone_close (p);
  WAIT_FOR (d->n_disconnected == 2);
  g_assert_no_error (d->disconnect_error);

  /* A phone that does not ping is closed as idle. */
  phone_open (p);
  companion_phone_client_set_timing (p->client, 0, 0, 60000, 60000);
  g_assert_true (companion_phone_client_connect (p->client, NULL));
  WAIT_FOR (p->n_connected == 3 && d->n_connected == 3);
  WAIT_FOR (d->n_disconnected == 3 && p->n_disconnected == 1);
  g_assert_error (d->disconnect_error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT);
  g_assert_error (p->disconnect_error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT);
  g_assert_true (companion_phone_client_is_paired (p->client));

  phone_free (p);
  desktop_free (d);
}

/* ---- raw tunnels over a WebSocket pair (12, 13) ---------------------------------- */

typedef struct
{
  SoupServer              *server;
  SoupWebsocketConnection *server_side;
  Raw                     *client;
  Peer                    *initiator; /* on the client side */
  Peer                    *responder; /* on the server side */
} Pair;

static void
on_pair_websocket (SoupServer              *server,
                   SoupServerMessage       *message,
                   const char              *path,
                   SoupWebsocketConnection *connection,
                   gpointer                 user_data)
{
  Pair *pair = user_data;

  g_assert_null (pair->server_side);
  pair->server_side = g_object_ref (connection);
}

/* Two CompanionTunnels over a real WebSocket on loopback, KK between two
 * fresh identities, not started. */
static Pair *
pair_new (void)
{
  Pair *pair = g_new0 (Pair, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(CompanionIdentity) a = companion_identity_generate ();
  g_autoptr(CompanionIdentity) b = companion_identity_generate ();
  g_autoptr(CompanionNoiseHandshake) initiator = test_handshake_kk_initiator (companion_identity_get_secret_key (a),
                                                               companion_identity_get_public_key (b));
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GBytes) prologue = companion_session_prologue ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  GSList *listeners;

  pair->server = soup_server_new (NULL, NULL);
  soup_server_remove_websocket_extension (pair->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_websocket_handler (pair->server, "/t", NULL, NULL, on_pair_websocket, pair, NULL);
  g_assert_true (soup_server_listen (pair->server, address, 0, &error));
  g_assert_no_error (error);
  listeners = soup_server_get_listeners (pair->server);
  local = g_socket_get_local_address (listeners->data, &error);
  g_assert_no_error (error);
  g_slist_free (listeners);

  pair->client = raw_connect (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)), "/t");
  WAIT_FOR (pair->server_side != NULL);

  responder = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_KK, COMPANION_NOISE_ROLE_RESPONDER, &error);
  g_assert_no_error (error);
  companion_noise_handshake_set_prologue (responder, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (responder, companion_identity_get_secret_key (b));
  companion_noise_handshake_set_remote_static (responder, companion_identity_get_public_key (a));

  pair->initiator = peer_new (pair->client->connection, initiator);
  pair->responder = peer_new (pair->server_side, responder);
  return pair;
}

static void
pair_start (Pair *pair)
{
  companion_tunnel_start (pair->responder->tunnel);
  companion_tunnel_start (pair->initiator->tunnel);
  WAIT_FOR (pair->initiator->established && pair->responder->established);
}

static void
pair_free (Pair *pair)
{
  peer_free (pair->initiator);
  peer_free (pair->responder);
  raw_free (pair->client);
  g_clear_object (&pair->server_side);
  soup_server_disconnect (pair->server);
  g_clear_object (&pair->server);
  test_loop_drain ();
  g_free (pair);
}

/* Keeps the header and data of the last chunk in RECEIVED[0] and [1]. */
static void
on_chunk_keep (CompanionTunnel *tunnel,
               GBytes          *header,
               GBytes          *data,
               GBytes         **received)
{
  g_clear_pointer (&received[0], g_bytes_unref);
  g_clear_pointer (&received[1], g_bytes_unref);
  received[0] = g_bytes_ref (header);
  received[1] = g_bytes_ref (data);
}

static void
send_test_record (Peer       *peer,
                  const char *from,
                  guint       n)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", "test");
  json_object_set_string_member (record, "from", from);
  json_object_set_int_member (record, "n", n);
  companion_tunnel_send_record (peer->tunnel, record, &error);
  g_assert_no_error (error);
}

static void
assert_test_records (Peer       *peer,
                     const char *from,
                     guint       n)
{
  g_assert_cmpuint (peer->records->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = g_ptr_array_index (peer->records, i);

      g_assert_cmpstr (json_object_get_string_member (record, "type"), ==, "test");
      g_assert_cmpstr (json_object_get_string_member (record, "from"), ==, from);
      g_assert_cmpint (json_object_get_int_member (record, "n"), ==, i);
    }
}

static void
test_keepalive_raw (void)
{
  Pair *pair = pair_new ();

  /* The initiator pings every 100 ms; the responder closes after 400 ms of
   * silence and does not ping. */
  companion_tunnel_set_timing (pair->initiator->tunnel, 1000, 100, 0);
  companion_tunnel_set_timing (pair->responder->tunnel, 1000, 0, 400);
  pair_start (pair);
  test_loop_spin (1200);
  g_assert_false (pair->initiator->closed);
  g_assert_false (pair->responder->closed);
  /* The pongs were heard. */
  g_assert_cmpuint (companion_tunnel_get_messages_received (pair->initiator->tunnel), >=, 8);

  /* No more pings: the responder closes as idle, and says so. */
  companion_tunnel_set_timing (pair->initiator->tunnel, 1000, 0, 0);
  WAIT_FOR (pair->responder->closed && pair->initiator->closed);
  g_assert_error (pair->responder->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT);
  g_assert_error (pair->initiator->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT);
  g_assert_cmpuint (pair->client->close_code, ==, COMPANION_CLOSE_IDLE);

  pair_free (pair);
}

/* ---- 13. rekey ------------------------------------------------------------------- */

static void
test_rekey (void)
{
  Pair *pair = pair_new ();
  g_autoptr(GString) pad = g_string_new (NULL);
  g_autoptr(JsonObject) big = json_object_new ();
  g_autoptr(GError) error = NULL;
  const guint n = 20;

  companion_tunnel_set_rekey_interval (pair->initiator->tunnel, 4);
  companion_tunnel_set_rekey_interval (pair->responder->tunnel, 4);
  pair_start (pair);
  for (guint i = 0; i < n; i++)
    {
      send_test_record (pair->initiator, "initiator", i);
      send_test_record (pair->responder, "responder", i);
    }
  WAIT_FOR (pair->initiator->records->len == n && pair->responder->records->len == n);
  assert_test_records (pair->responder, "initiator", n);
  assert_test_records (pair->initiator, "responder", n);

  /* The largest record one message can carry: 65535 bytes on the wire. */
  json_object_set_string_member (big, "type", "big");
  g_string_set_size (pad, COMPANION_NOISE_MAX_PAYLOAD_LEN - 1 - strlen ("{\"type\":\"big\",\"pad\":\"\"}"));
  memset (pad->str, 'x', pad->len);
  json_object_set_string_member (big, "pad", pad->str);
  companion_tunnel_send_record (pair->initiator->tunnel, big, &error);
  g_assert_no_error (error);
  send_test_record (pair->initiator, "initiator", n);
  WAIT_FOR (pair->responder->records->len == n + 2 || pair->responder->closed);
  g_assert_false (pair->responder->closed);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (pair->responder->records, n), "pad"),
                   ==, pad->str);
  /* One more byte does not fit. */
  g_string_append_c (pad, 'x');
  json_object_set_string_member (big, "pad", pad->str);
  g_assert_false (companion_tunnel_send_record (pair->initiator->tunnel, big, &error));
  g_assert_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD);
  g_clear_error (&error);

  /* The largest chunk: a 64-byte header and 60 KiB of data; one byte more
   * of either is refused before anything is sent. */
  {
    g_autoptr(GBytes) header = test_handshake_random_bytes (COMPANION_TUNNEL_CHUNK_HEADER_MAX + 1);
    g_autoptr(GBytes) data = test_handshake_random_bytes (COMPANION_TUNNEL_CHUNK_MAX + 1);
    const guint8 *h = g_bytes_get_data (header, NULL);
    const guint8 *d = g_bytes_get_data (data, NULL);
    GBytes *received[2] = { NULL, NULL };

    g_signal_connect (pair->responder->tunnel, "chunk", G_CALLBACK (on_chunk_keep), received);
    g_assert_true (companion_tunnel_send_chunk (pair->initiator->tunnel, h, COMPANION_TUNNEL_CHUNK_HEADER_MAX,
                                                d, COMPANION_TUNNEL_CHUNK_MAX, &error));
    g_assert_no_error (error);
    WAIT_FOR (received[1] != NULL || pair->responder->closed);
    g_assert_false (pair->responder->closed);
    g_assert_cmpmem (g_bytes_get_data (received[0], NULL), g_bytes_get_size (received[0]),
                     h, COMPANION_TUNNEL_CHUNK_HEADER_MAX);
    g_assert_cmpmem (g_bytes_get_data (received[1], NULL), g_bytes_get_size (received[1]),
                     d, COMPANION_TUNNEL_CHUNK_MAX);
    g_assert_false (companion_tunnel_send_chunk (pair->initiator->tunnel, h, COMPANION_TUNNEL_CHUNK_HEADER_MAX + 1,
                                                 d, COMPANION_TUNNEL_CHUNK_MAX, &error));
    g_assert_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD);
    g_clear_error (&error);
    g_assert_false (companion_tunnel_send_chunk (pair->initiator->tunnel, h, COMPANION_TUNNEL_CHUNK_HEADER_MAX,
                                                 d, COMPANION_TUNNEL_CHUNK_MAX + 1, &error));
    g_assert_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD);
    g_clear_error (&error);
    g_signal_handlers_disconnect_by_data (pair->responder->tunnel, received);
    g_clear_pointer (&received[0], g_bytes_unref);
    g_clear_pointer (&received[1], g_bytes_unref);
  }

  companion_tunnel_close (pair->initiator->tunnel, COMPANION_CLOSE_NORMAL, NULL);
  WAIT_FOR (pair->initiator->closed && pair->responder->closed);
  g_assert_no_error (pair->initiator->error);
  g_assert_no_error (pair->responder->error);
  pair_free (pair);

  /* Rekeying is real: two sides that rekey at different points fail at the
   * first message after the earlier rekey. */
  pair = pair_new ();
  companion_tunnel_set_rekey_interval (pair->initiator->tunnel, 4);
  companion_tunnel_set_rekey_interval (pair->responder->tunnel, 5);
  pair_start (pair);
  for (guint i = 0; i < 6; i++)
    send_test_record (pair->initiator, "initiator", i);
  WAIT_FOR (pair->responder->closed);
  assert_test_records (pair->responder, "initiator", 4);
  g_assert_error (pair->responder->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_DECRYPT_FAILED);
  g_assert_nonnull (strstr (pair->responder->error->message, "Message 5 failed to decrypt"));
  pair_free (pair);
}

/* A linked desktop whose key has gone missing refuses to start as someone
 * else, and can still be unlinked. */
static void
test_identity_missing (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Test phone");
  g_autofree char *dir = g_strdup (d->dir);
  g_autoptr(CompanionKeyStore) key_store = g_object_ref (d->key_store);
  g_autoptr(CompanionDesktopServer) reopened = NULL;
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) phone_key = NULL;

  pair_phone (d, p);
  phone_free (p);

  /* What a restart would find: the record, but no key. */
  g_assert_true (companion_key_store_delete_identity (key_store, &error));
  g_assert_no_error (error);
  reopened = companion_desktop_server_new (dir, key_store, &error);
  g_assert_null (reopened);
  g_assert_error (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_IDENTITY_MISSING);
  g_assert_nonnull (strstr (error->message, "Test phone"));
  g_assert_nonnull (strstr (error->message, "companion-cli unlink"));
  g_clear_error (&error);

  record = load_record (dir);
  phone_key = g_bytes_new (companion_pairing_record_get_peer_public_key (record), 32);
  g_assert_true (companion_desktop_server_unlink_offline (dir, key_store, &error));
  g_assert_no_error (error);
  g_clear_object (&record);
  record = load_record (dir);
  g_assert_false (companion_pairing_record_has_peer (record));
  g_assert_true (companion_pairing_record_is_denied (record, g_bytes_get_data (phone_key, NULL)));

  /* Unpaired now: it starts with a fresh identity. */
  reopened = companion_desktop_server_new (dir, key_store, &error);
  g_assert_no_error (error);
  g_assert_false (companion_desktop_server_is_paired (reopened));
  g_assert_false (companion_desktop_server_unlink_offline (dir, key_store, &error));
  g_assert_error (error, COMPANION_DESKTOP_SERVER_ERROR, COMPANION_DESKTOP_SERVER_ERROR_NOT_PAIRED);
  g_clear_object (&reopened);
  desktop_free (d);
}

static void
on_session_record (GObject    *source,
                   const char *type,
                   JsonObject *record,
                   char      **received)
{
  g_free (*received);
  *received = g_strdup_printf ("%s:%s", type, json_object_get_string_member (record, "text"));
}

/* A record whose "type" is not a string: refused as malformed, with no
 * critical on the way (found by fuzzing: fuzz/corpus/tunnel-records). */
static void
test_type_not_string (void)
{
  Pair *pair = pair_new ();
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  pair_start (pair);
  json_object_set_object_member (record, "type", json_object_new ());
  g_assert_true (companion_tunnel_send_record (pair->initiator->tunnel, record, &error));
  g_assert_no_error (error);
  WAIT_FOR (pair->responder->closed);
  g_assert_error (pair->responder->error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD);
  g_assert_cmpuint (pair->responder->records->len, ==, 0);
  WAIT_FOR (pair->initiator->closed);
  pair_free (pair);
}

/* Records the session layer does not handle reach the layers above, in
 * both directions, and only the detail asked for. */
static void
test_session_records (void)
{
  Desktop *d = desktop_new ();
  Phone *p = phone_new ("Test phone");
  g_autoptr(JsonObject) to_desktop = json_object_new ();
  g_autoptr(JsonObject) to_phone = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *at_desktop = NULL;
  g_autofree char *at_phone = NULL;
  g_autofree char *other_detail = NULL;

  /* Not connected: a clear error, nothing sent. */
  json_object_set_string_member (to_phone, "type", "echo");
  json_object_set_string_member (to_phone, "text", "to the phone");
  g_assert_false (companion_desktop_server_send_record (d->server, to_phone, &error));
  g_assert_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED);
  g_clear_error (&error);

  pair_phone (d, p);
  g_signal_connect (d->server, "session-record::echo", G_CALLBACK (on_session_record), &at_desktop);
  g_signal_connect (d->server, "session-record::other", G_CALLBACK (on_session_record), &other_detail);
  g_signal_connect (p->client, "session-record::echo", G_CALLBACK (on_session_record), &at_phone);

  json_object_set_string_member (to_desktop, "type", "echo");
  json_object_set_string_member (to_desktop, "text", "to the desktop");
  g_assert_true (companion_phone_client_send_record (p->client, to_desktop, &error));
  g_assert_no_error (error);
  g_assert_true (companion_desktop_server_send_record (d->server, to_phone, &error));
  g_assert_no_error (error);
  WAIT_FOR (at_desktop != NULL && at_phone != NULL);
  g_assert_cmpstr (at_desktop, ==, "echo:to the desktop");
  g_assert_cmpstr (at_phone, ==, "echo:to the phone");
  g_assert_null (other_detail);

  g_signal_handlers_disconnect_by_data (d->server, &at_desktop);
  g_signal_handlers_disconnect_by_data (d->server, &other_detail);
  g_signal_handlers_disconnect_by_data (p->client, &at_phone);
  phone_free (p);
  desktop_free (d);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (!companion_core_init (&error))
    g_error ("%s", error->message);

  base_dir = g_dir_make_tmp ("companion-test-pairing-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/pairing/happy-path", test_happy_path);
  g_test_add_func ("/pairing/wrong-secret", test_wrong_secret);
  g_test_add_func ("/pairing/other-desktop", test_other_desktop);
  g_test_add_func ("/pairing/expired-code", test_expired_code);
  g_test_add_func ("/pairing/rotation-during-handshake", test_rotation_during_handshake);
  g_test_add_func ("/pairing/used-code", test_used_code);
  g_test_add_func ("/pairing/malformed-handshake", test_malformed_handshake);
  g_test_add_func ("/pairing/confirm-deadline", test_confirm_deadline);
  g_test_add_func ("/tunnel/tampering", test_transport_tampering);
  g_test_add_func ("/tunnel/preauth-frames", test_preauth_frames);
  g_test_add_func ("/tunnel/session-refusals", test_session_refusals);
  g_test_add_func ("/tunnel/limits", test_limits);
  g_test_add_func ("/pairing/unlink-from-desktop", test_unlink_from_desktop);
  g_test_add_func ("/pairing/unlink-from-phone", test_unlink_from_phone);
  g_test_add_func ("/pairing/advisory-close-codes", test_advisory_close_codes);
  g_test_add_func ("/tunnel/keepalive", test_keepalive);
  g_test_add_func ("/tunnel/keepalive-raw", test_keepalive_raw);
  g_test_add_func ("/tunnel/rekey", test_rekey);
  g_test_add_func ("/tunnel/type-not-string", test_type_not_string);
  g_test_add_func ("/pairing/identity-missing", test_identity_missing);
  g_test_add_func ("/tunnel/session-records", test_session_records);

  status = g_test_run ();

  test_util_remove_tree (base_dir);
  g_clear_pointer (&base_dir, g_free);
  return status;
}
