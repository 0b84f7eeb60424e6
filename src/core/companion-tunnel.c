/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-tunnel"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-noise-cipher.h"
#include "companion-record.h"
#include "companion-tunnel.h"

/* The first byte of every transport plaintext says what follows. */
#define RECORD_KIND_JSON 0x01
/* A binary chunk: kind, header length (1 byte), header, data. */
#define RECORD_KIND_CHUNK 0x02

/* The largest chunk with the largest header fits the send buffer. */
G_STATIC_ASSERT (2 + COMPANION_TUNNEL_CHUNK_HEADER_MAX + COMPANION_TUNNEL_CHUNK_MAX <=
                 COMPANION_NOISE_MAX_PAYLOAD_LEN);

struct _CompanionTunnel
{
  GObject                  parent_instance;

  SoupWebsocketConnection *connection;
  CompanionNoiseHandshake *handshake;
  CompanionNoiseCipher    *send_cipher;
  CompanionNoiseCipher    *receive_cipher;
  GBytes                  *handshake_hash;
  GBytes                  *remote_static;

  CompanionTunnelState     state;
  GError                  *pending_error;   /* why the socket is closing */
  gboolean                 got_close_record; /* the peer said it closes */
  gboolean                 closing;          /* we close */

  guint                    handshake_deadline_ms;
  guint                    ping_interval_ms;
  guint                    idle_timeout_ms;
  guint64                  rekey_interval;
  guint                    timer_id;
  gint64                   created_at;
  gint64                   last_received;
  gint64                   last_ping_sent;
  guint64                  messages_received;
  /* One transport message is built and encrypted in place here, reused for
   * every send: no allocation or copy per chunk beyond libsoup's frame. */
  guint8                  *send_buffer;
};

G_DEFINE_FINAL_TYPE (CompanionTunnel, companion_tunnel, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-tunnel-error-quark, companion_tunnel_error)

enum {
  SIGNAL_ESTABLISHED,
  SIGNAL_RECORD,
  SIGNAL_CLOSED,
  SIGNAL_CHUNK,
  SIGNAL_PEER_PROVEN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void schedule_timer (CompanionTunnel *self);

static void
finish (CompanionTunnel *self,
        GError          *error)
{
  g_autoptr(CompanionTunnel) hold = g_object_ref (self);

  if (self->state == COMPANION_TUNNEL_STATE_CLOSED)
    {
      g_clear_error (&error);
      return;
    }
  self->state = COMPANION_TUNNEL_STATE_CLOSED;
  g_clear_handle_id (&self->timer_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (self->connection, self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  g_clear_error (&error);
}

/* Closes the socket with CODE and remembers ERROR to report when it is
 * closed; the first error wins. */
static void
fail (CompanionTunnel   *self,
      CompanionCloseCode code,
      const char        *reason,
      GError            *error)
{
  if (self->pending_error == NULL)
    self->pending_error = error;
  else
    g_clear_error (&error);

  if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->connection, code, reason);
  else if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_CLOSED)
    finish (self, g_steal_pointer (&self->pending_error));
}

/* Encrypts the LEN bytes of plaintext at the start of send_buffer in place
 * and sends them; libsoup copies the result into its frame. */
static gboolean
send_frame (CompanionTunnel *self,
            gsize            len,
            GError         **error)
{
  if (!companion_noise_cipher_encrypt_in_place (self->send_cipher, self->send_buffer, len, error))
    return FALSE;
  /* Implicit rekey: both sides count messages, so no signalling is needed. */
  if (self->rekey_interval > 0 &&
      companion_noise_cipher_get_nonce (self->send_cipher) % self->rekey_interval == 0)
    companion_noise_cipher_rekey (self->send_cipher);

  soup_websocket_connection_send_binary (self->connection, self->send_buffer,
                                         len + COMPANION_NOISE_TAG_LEN);
  return TRUE;
}

static gboolean
can_send (CompanionTunnel *self,
          GError         **error)
{
  if (self->state != COMPANION_TUNNEL_STATE_ESTABLISHED)
    {
      g_set_error_literal (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED,
                           self->state == COMPANION_TUNNEL_STATE_CLOSED
                             ? "The connection is closed"
                             : "The connection is not authenticated yet");
      return FALSE;
    }
  /* Still established while the WebSocket closes (either side started it):
   * libsoup refuses to send then, so say so instead. */
  if (self->closing ||
      soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_set_error_literal (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CLOSED,
                           "The connection is closing");
      return FALSE;
    }
  return TRUE;
}

gboolean
companion_tunnel_send_record (CompanionTunnel *self,
                              JsonObject      *record,
                              GError         **error)
{
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;

  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), FALSE);
  g_return_val_if_fail (record != NULL, FALSE);

  if (!can_send (self, error))
    return FALSE;

  node = json_node_init_object (json_node_alloc (), record);
  generator = json_generator_new ();
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  return companion_tunnel_send_record_text (self, text, len, error);
}

gboolean
companion_tunnel_send_record_text (CompanionTunnel *self,
                                   const char      *text,
                                   gsize            len,
                                   GError         **error)
{
  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  if (!can_send (self, error))
    return FALSE;
  if (len > COMPANION_TUNNEL_RECORD_TEXT_MAX)
    {
      g_set_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
                   "A record of %" G_GSIZE_FORMAT " bytes is larger than one message allows", len);
      return FALSE;
    }

  self->send_buffer[0] = RECORD_KIND_JSON;
  memcpy (self->send_buffer + 1, text, len);
  return send_frame (self, len + 1, error);
}

gboolean
companion_tunnel_send_chunk_filled (CompanionTunnel         *self,
                                    const guint8            *header,
                                    gsize                    header_len,
                                    gsize                    len,
                                    CompanionTunnelChunkFill fill,
                                    gpointer                 user_data,
                                    GError                 **error)
{
  guint8 *plaintext;

  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), FALSE);
  g_return_val_if_fail (header != NULL || header_len == 0, FALSE);
  g_return_val_if_fail (fill != NULL || len == 0, FALSE);

  if (header_len > COMPANION_TUNNEL_CHUNK_HEADER_MAX || len > COMPANION_TUNNEL_CHUNK_MAX)
    {
      g_set_error (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
                   "A chunk of %" G_GSIZE_FORMAT " bytes with a header of %" G_GSIZE_FORMAT
                   " is larger than one message allows", len, header_len);
      return FALSE;
    }
  if (!can_send (self, error))
    return FALSE;

  plaintext = self->send_buffer;
  plaintext[0] = RECORD_KIND_CHUNK;
  plaintext[1] = (guint8) header_len;
  if (header_len > 0)
    memcpy (plaintext + 2, header, header_len);
  if (len > 0 && !fill (plaintext + 2 + header_len, len, user_data, error))
    return FALSE;
  return send_frame (self, 2 + header_len + len, error);
}

static gboolean
fill_from_memory (guint8   *data,
                  gsize     len,
                  gpointer  user_data,
                  GError  **error)
{
  memcpy (data, user_data, len);
  return TRUE;
}

gboolean
companion_tunnel_send_chunk (CompanionTunnel *self,
                             const guint8    *header,
                             gsize            header_len,
                             const guint8    *data,
                             gsize            len,
                             GError         **error)
{
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  return companion_tunnel_send_chunk_filled (self, header, header_len, len, fill_from_memory,
                                             (gpointer) data, error);
}

static void
send_simple_record (CompanionTunnel *self,
                    const char      *type)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", type);
  if (!companion_tunnel_send_record (self, record, &error))
    g_debug ("Could not send %s: %s", type, error->message);
}

static void
establish (CompanionTunnel *self)
{
  g_autoptr(GError) error = NULL;

  if (!companion_noise_handshake_split (self->handshake, &self->send_cipher,
                                        &self->receive_cipher, &error))
    {
      fail (self, COMPANION_CLOSE_HANDSHAKE_FAILED, "handshake failed",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                         "The handshake could not finish: %s", error->message));
      return;
    }
  self->handshake_hash = companion_noise_handshake_get_handshake_hash (self->handshake);
  self->remote_static = companion_noise_handshake_get_remote_static (self->handshake);
  g_clear_object (&self->handshake);

  self->state = COMPANION_TUNNEL_STATE_ESTABLISHED;
  soup_websocket_connection_set_max_incoming_payload_size (self->connection,
                                                           COMPANION_TUNNEL_FRAME_LIMIT);
  self->last_received = g_get_monotonic_time ();
  self->last_ping_sent = self->last_received;
  schedule_timer (self);
  g_signal_emit (self, signals[SIGNAL_ESTABLISHED], 0);
}

static void
write_handshake_message (CompanionTunnel *self)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  /* Handshake payloads are empty: nothing is said before authentication. */
  if (!companion_noise_handshake_write_message (self->handshake, NULL, 0, out, &error))
    {
      fail (self, COMPANION_CLOSE_HANDSHAKE_FAILED, "handshake failed",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                         "The handshake failed: %s", error->message));
      return;
    }
  soup_websocket_connection_send_binary (self->connection, out->data, out->len);
  if (companion_noise_handshake_is_finished (self->handshake))
    establish (self);
}

static void
on_handshake_message (CompanionTunnel *self,
                      GBytes          *message)
{
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (!companion_noise_handshake_read_message (self->handshake, data, len, payload, &error))
    {
      fail (self, COMPANION_CLOSE_HANDSHAKE_FAILED, "handshake failed",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                         "The handshake failed: the keys or the pairing secret do not match (%s)",
                         error->message));
      return;
    }
  if (payload->len != 0)
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "handshake payload",
            g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_FAILED,
                                 "The peer put data in a handshake message"));
      return;
    }

  if (companion_noise_handshake_is_finished (self->handshake))
    establish (self);
  else if (companion_noise_handshake_is_my_turn (self->handshake))
    write_handshake_message (self);
}

static void
on_transport_message (CompanionTunnel *self,
                      GBytes          *message)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *plaintext = NULL;
  gsize plain_len;
  JsonObject *record;
  JsonNode *root;
  const char *type;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);

  /* Sized up front (libsoup bounds LEN): one allocation, which a chunk's
   * GBytes then takes over. */
  plain_len = len > COMPANION_NOISE_TAG_LEN ? len - COMPANION_NOISE_TAG_LEN : 0;
  plaintext = g_malloc (MAX (plain_len, 1));
  if (!companion_noise_cipher_decrypt_into (self->receive_cipher, data, len, plaintext, &error))
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "decryption failed",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_DECRYPT_FAILED,
                         "Message %" G_GUINT64_FORMAT " failed to decrypt: it was altered, "
                         "replayed, reordered or dropped on the way",
                         self->messages_received + 1));
      return;
    }
  self->messages_received++;
  self->last_received = g_get_monotonic_time ();
  /* A first handshake message can be replayed; a transport message that
   * decrypts proves the peer is here now. */
  if (self->messages_received == 1)
    g_signal_emit (self, signals[SIGNAL_PEER_PROVEN], 0);
  if (self->state != COMPANION_TUNNEL_STATE_ESTABLISHED)
    return;
  if (self->rekey_interval > 0 &&
      companion_noise_cipher_get_nonce (self->receive_cipher) % self->rekey_interval == 0)
    companion_noise_cipher_rekey (self->receive_cipher);

  if (plain_len >= 2 && plaintext[0] == RECORD_KIND_CHUNK &&
      (gsize) plaintext[1] + 2 <= plain_len)
    {
      gsize header_len = plaintext[1];
      gsize total = plain_len;
      g_autoptr(GBytes) all = g_bytes_new_take (g_steal_pointer (&plaintext), plain_len);
      g_autoptr(GBytes) header = g_bytes_new_from_bytes (all, 2, header_len);
      g_autoptr(GBytes) data = g_bytes_new_from_bytes (all, 2 + header_len, total - 2 - header_len);

      g_signal_emit (self, signals[SIGNAL_CHUNK], 0, header, data);
      return;
    }
  if (plain_len < 1 || plaintext[0] != RECORD_KIND_JSON)
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "unknown record kind",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
                         "Message %" G_GUINT64_FORMAT " is of an unknown kind",
                         self->messages_received));
      return;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, (const char *) plaintext + 1,
                                   (gssize) plain_len - 1, &error) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root) ||
      (type = companion_json_get_string (json_node_get_object (root), "type")) == NULL)
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "malformed record",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
                         "Message %" G_GUINT64_FORMAT " is not a record with a type",
                         self->messages_received));
      return;
    }
  record = json_node_get_object (root);

  if (g_str_equal (type, "close"))
    {
      self->got_close_record = TRUE;
      return;
    }
  if (g_str_equal (type, "ping"))
    {
      send_simple_record (self, "pong");
      return;
    }
  if (g_str_equal (type, "pong"))
    return;

  g_signal_emit (self, signals[SIGNAL_RECORD], 0, record);
}

static void
on_message (SoupWebsocketConnection *connection,
            int                      type,
            GBytes                  *message,
            gpointer                 user_data)
{
  CompanionTunnel *self = user_data;
  g_autoptr(CompanionTunnel) hold = g_object_ref (self);

  if (self->state == COMPANION_TUNNEL_STATE_CLOSED || self->pending_error != NULL || self->closing)
    return;

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "text frame",
            g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_TEXT_FRAME,
                                 "The peer sent a text frame; only binary Noise messages are allowed"));
      return;
    }

  if (self->got_close_record)
    {
      fail (self, COMPANION_CLOSE_PROTOCOL, "data after close",
            g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_MALFORMED_RECORD,
                                 "The peer sent data after closing"));
      return;
    }

  if (self->state == COMPANION_TUNNEL_STATE_HANDSHAKE)
    on_handshake_message (self, message);
  else
    on_transport_message (self, message);
}

static void
on_error (SoupWebsocketConnection *connection,
          GError                  *error,
          gpointer                 user_data)
{
  CompanionTunnel *self = user_data;

  if (self->pending_error != NULL)
    return;
  /* Once either side has said goodbye, nothing is lost: a peer that goes
   * away before the closing handshake ends (a pong or our close frame then
   * meets a broken pipe) is not a cut connection. */
  if (self->got_close_record || self->closing)
    {
      g_debug ("Ignoring an error while closing: %s", error->message);
      return;
    }
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    self->pending_error = g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_FRAME_TOO_LARGE,
                                       "The peer sent a frame larger than %u bytes",
                                       self->state == COMPANION_TUNNEL_STATE_HANDSHAKE
                                         ? COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT
                                         : COMPANION_TUNNEL_FRAME_LIMIT);
  else
    self->pending_error = g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
                                       "The connection failed: %s", error->message);
}

GError *
companion_tunnel_error_from_close (gushort     code,
                                   const char *reason)
{
  const char *text;

  switch (code)
    {
    case COMPANION_CLOSE_CODE_EXPIRED:
      text = "The desktop says this pairing code has expired: scan the code it shows now";
      break;
    case COMPANION_CLOSE_CODE_USED:
      text = "The desktop says this pairing code was already used: scan the code it shows now";
      break;
    case COMPANION_CLOSE_CODE_BUSY:
      text = "The desktop is already pairing with this code: try again in a moment";
      break;
    case COMPANION_CLOSE_UNKNOWN_CODE:
      text = "The desktop does not recognise this pairing code (another desktop's, or damaged)";
      break;
    case COMPANION_CLOSE_HANDSHAKE_TIMEOUT:
      text = "The desktop gave up waiting for the handshake";
      break;
    case COMPANION_CLOSE_TOO_MANY:
      text = "The desktop has too many connections waiting: try again";
      break;
    case COMPANION_CLOSE_ALREADY_PAIRED:
      text = "The desktop is already linked to a phone: unlink it there first";
      break;
    case COMPANION_CLOSE_NOT_PAIRED:
      text = "The desktop is not linked to any phone: pair again with a new code";
      break;
    case COMPANION_CLOSE_UNKNOWN_IDENTITY:
      text = "The desktop does not recognise this phone (unlinked, or never paired): "
             "pair again with a new code";
      break;
    case COMPANION_CLOSE_REPLACED:
      text = "A newer connection from the phone replaced this one";
      break;
    case COMPANION_CLOSE_UNLINKED:
      text = "The phone and the desktop were unlinked";
      break;
    case COMPANION_CLOSE_HANDSHAKE_FAILED:
      text = "The handshake failed: the keys or the pairing secret do not match";
      break;
    /* The two a session ends with: said apart from a connection lost. */
    case COMPANION_CLOSE_IDLE:
      return g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT,
                                  "The desktop heard nothing for too long and closed the connection");
    case COMPANION_CLOSE_PROTOCOL:
      return g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED,
                          "The desktop refused what it received%s%s",
                          reason != NULL && *reason ? ": " : "", reason != NULL ? reason : "");
    default:
      return g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
                          "The connection was closed (code %u%s%s)", code,
                          reason != NULL && *reason ? ": " : "",
                          reason != NULL ? reason : "");
    }
  return g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_REFUSED, text);
}

static void
on_closed (SoupWebsocketConnection *connection,
           gpointer                 user_data)
{
  CompanionTunnel *self = user_data;
  GError *error = g_steal_pointer (&self->pending_error);
  gushort code = soup_websocket_connection_get_close_code (connection);

  /* The peer's stated reason says more than a broken pipe that followed it. */
  if (code >= 4000 && code < 5000 && !self->closing &&
      g_error_matches (error, COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CONNECTION_LOST))
    {
      g_clear_error (&error);
      error = companion_tunnel_error_from_close (code, soup_websocket_connection_get_close_data (connection));
    }

  if (error == NULL && self->closing)
    ;
  else if (error == NULL && self->state == COMPANION_TUNNEL_STATE_ESTABLISHED && !self->got_close_record)
    {
      /* Without a close record the stream may have been cut short. */
      if (code >= 4000 && code < 5000)
        error = companion_tunnel_error_from_close (code, soup_websocket_connection_get_close_data (connection));
      else
        error = g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
                                     "The connection was lost");
    }
  else if (error == NULL && self->state == COMPANION_TUNNEL_STATE_HANDSHAKE)
    {
      if (code >= 4000 && code < 5000)
        error = companion_tunnel_error_from_close (code, soup_websocket_connection_get_close_data (connection));
      else
        error = g_error_new_literal (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_CONNECTION_LOST,
                                     "The connection closed during the handshake");
    }

  finish (self, error);
}

static gboolean
on_timer (gpointer user_data)
{
  CompanionTunnel *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->timer_id = 0;

  if (self->state == COMPANION_TUNNEL_STATE_HANDSHAKE)
    {
      fail (self, COMPANION_CLOSE_HANDSHAKE_TIMEOUT, "handshake timeout",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_HANDSHAKE_TIMEOUT,
                         "The handshake did not finish within %u ms", self->handshake_deadline_ms));
      return G_SOURCE_REMOVE;
    }

  if (self->idle_timeout_ms > 0 && now - self->last_received >= (gint64) self->idle_timeout_ms * 1000)
    {
      fail (self, COMPANION_CLOSE_IDLE, "idle",
            g_error_new (COMPANION_TUNNEL_ERROR, COMPANION_TUNNEL_ERROR_IDLE_TIMEOUT,
                         "Nothing was heard from the peer for %u s", self->idle_timeout_ms / 1000));
      return G_SOURCE_REMOVE;
    }
  if (self->ping_interval_ms > 0 && now - self->last_ping_sent >= (gint64) self->ping_interval_ms * 1000)
    {
      self->last_ping_sent = now;
      send_simple_record (self, "ping");
    }

  schedule_timer (self);
  return G_SOURCE_REMOVE;
}

/* One timer a tunnel, set for the next thing due: no periodic wakeups
 * beyond the ping interval and the idle deadline. */
static void
schedule_timer (CompanionTunnel *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 due = G_MAXINT64;

  g_clear_handle_id (&self->timer_id, g_source_remove);

  if (self->state == COMPANION_TUNNEL_STATE_HANDSHAKE)
    {
      if (self->handshake_deadline_ms > 0)
        due = self->created_at + (gint64) self->handshake_deadline_ms * 1000;
    }
  else if (self->state == COMPANION_TUNNEL_STATE_ESTABLISHED)
    {
      if (self->idle_timeout_ms > 0)
        due = MIN (due, self->last_received + (gint64) self->idle_timeout_ms * 1000);
      if (self->ping_interval_ms > 0)
        due = MIN (due, self->last_ping_sent + (gint64) self->ping_interval_ms * 1000);
    }

  if (due == G_MAXINT64)
    return;
  self->timer_id = g_timeout_add ((guint) MAX (0, (due - now + 999) / 1000), on_timer, self);
}

static void
release_when_closed (SoupWebsocketConnection *connection,
                     gpointer                 user_data)
{
  g_signal_handlers_disconnect_by_func (connection, release_when_closed, user_data);
  g_object_unref (connection);
}

static void
companion_tunnel_dispose (GObject *object)
{
  CompanionTunnel *self = COMPANION_TUNNEL (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (self->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->connection, self);
      if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->connection, COMPANION_CLOSE_NORMAL, NULL);
      /* Dropping the last reference to a closing WebSocket makes libsoup cut
       * the TCP connection at once, under frames still on their way (the
       * close record, the close frame). Keep it until the closing handshake
       * is over; libsoup gives up on a silent peer after a few seconds. */
      if (soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_CLOSED)
        g_signal_connect (g_object_ref (self->connection), "closed", G_CALLBACK (release_when_closed), NULL);
    }
  g_clear_object (&self->connection);
  g_clear_object (&self->handshake);
  g_clear_object (&self->send_cipher);
  g_clear_object (&self->receive_cipher);

  G_OBJECT_CLASS (companion_tunnel_parent_class)->dispose (object);
}

static void
companion_tunnel_finalize (GObject *object)
{
  CompanionTunnel *self = COMPANION_TUNNEL (object);

  g_clear_pointer (&self->handshake_hash, g_bytes_unref);
  g_clear_pointer (&self->remote_static, g_bytes_unref);
  g_clear_pointer (&self->send_buffer, g_free);
  g_clear_error (&self->pending_error);

  G_OBJECT_CLASS (companion_tunnel_parent_class)->finalize (object);
}

static void
companion_tunnel_class_init (CompanionTunnelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_tunnel_dispose;
  object_class->finalize = companion_tunnel_finalize;

  signals[SIGNAL_ESTABLISHED] =
    g_signal_new ("established", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_RECORD] =
    g_signal_new ("record", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_CHUNK] =
    g_signal_new ("chunk", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_BYTES, G_TYPE_BYTES);
  /* Once, when the peer's first transport message decrypts. */
  signals[SIGNAL_PEER_PROVEN] =
    g_signal_new ("peer-proven", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_tunnel_init (CompanionTunnel *self)
{
  self->state = COMPANION_TUNNEL_STATE_HANDSHAKE;
  self->handshake_deadline_ms = COMPANION_TUNNEL_HANDSHAKE_DEADLINE_MS;
  self->idle_timeout_ms = COMPANION_TUNNEL_IDLE_TIMEOUT_MS;
  self->ping_interval_ms = 0;
  self->rekey_interval = COMPANION_TUNNEL_REKEY_INTERVAL;
  self->created_at = g_get_monotonic_time ();
  self->send_buffer = g_malloc (COMPANION_NOISE_MAX_MESSAGE_LEN);
}

CompanionTunnel *
companion_tunnel_new (SoupWebsocketConnection *connection,
                      CompanionNoiseHandshake *handshake)
{
  CompanionTunnel *self;

  g_return_val_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (connection), NULL);
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (handshake), NULL);

  self = g_object_new (COMPANION_TYPE_TUNNEL, NULL);
  self->connection = g_object_ref (connection);
  self->handshake = g_object_ref (handshake);

  /* Stingy before authentication: handshake messages are under 100 bytes. */
  soup_websocket_connection_set_max_incoming_payload_size (connection,
                                                           COMPANION_TUNNEL_PREAUTH_FRAME_LIMIT);
  soup_websocket_connection_set_keepalive_interval (connection, 0);
  g_signal_connect (connection, "message", G_CALLBACK (on_message), self);
  g_signal_connect (connection, "error", G_CALLBACK (on_error), self);
  g_signal_connect (connection, "closed", G_CALLBACK (on_closed), self);
  return self;
}

void
companion_tunnel_start (CompanionTunnel *self)
{
  g_return_if_fail (COMPANION_IS_TUNNEL (self));

  schedule_timer (self);
  if (self->state == COMPANION_TUNNEL_STATE_HANDSHAKE &&
      companion_noise_handshake_is_my_turn (self->handshake))
    write_handshake_message (self);
}

CompanionTunnelState
companion_tunnel_get_state (CompanionTunnel *self)
{
  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), COMPANION_TUNNEL_STATE_CLOSED);
  return self->state;
}

void
companion_tunnel_close (CompanionTunnel   *self,
                        CompanionCloseCode code,
                        const char        *reason)
{
  g_return_if_fail (COMPANION_IS_TUNNEL (self));

  /* Once is enough: a second close (the desktop closes on an "unlink" record
   * and again when it forgets the phone) must not send another record. */
  if (self->closing)
    return;
  if (self->state == COMPANION_TUNNEL_STATE_ESTABLISHED)
    send_simple_record (self, "close");
  if (self->state != COMPANION_TUNNEL_STATE_CLOSED &&
      soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      /* Our own close is clean: report no error for it. */
      self->closing = TRUE;
      soup_websocket_connection_close (self->connection, code, reason);
    }
}

GBytes *
companion_tunnel_get_remote_static (CompanionTunnel *self)
{
  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), NULL);
  return self->remote_static;
}

char *
companion_safety_code_from_hash (GBytes *handshake_hash)
{
  guint8 digest[8];
  guint8 personal[crypto_generichash_blake2b_PERSONALBYTES] = "pairing-sas-v1";
  guint8 salt[crypto_generichash_blake2b_SALTBYTES] = { 0 };
  guint64 value = 0;
  gsize len = 0;
  const guint8 *hash;

  g_return_val_if_fail (handshake_hash != NULL, NULL);

  hash = g_bytes_get_data (handshake_hash, &len);
  crypto_generichash_blake2b_salt_personal (digest, sizeof digest, hash, len, NULL, 0, salt, personal);
  for (int i = 7; i >= 0; i--)
    value = (value << 8) | digest[i];
  return g_strdup_printf ("%06u", (guint) (value % 1000000));
}

char *
companion_tunnel_dup_safety_code (CompanionTunnel *self)
{
  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), NULL);

  if (self->handshake_hash == NULL)
    return NULL;
  return companion_safety_code_from_hash (self->handshake_hash);
}

void
companion_tunnel_set_timing (CompanionTunnel *self,
                             guint            handshake_deadline_ms,
                             guint            ping_interval_ms,
                             guint            idle_timeout_ms)
{
  g_return_if_fail (COMPANION_IS_TUNNEL (self));

  self->handshake_deadline_ms = handshake_deadline_ms;
  self->ping_interval_ms = ping_interval_ms;
  self->idle_timeout_ms = idle_timeout_ms;
  if (self->state != COMPANION_TUNNEL_STATE_CLOSED)
    schedule_timer (self);
}

void
companion_tunnel_set_rekey_interval (CompanionTunnel *self,
                                     guint64          interval)
{
  g_return_if_fail (COMPANION_IS_TUNNEL (self));
  self->rekey_interval = interval;
}

guint64
companion_tunnel_get_messages_received (CompanionTunnel *self)
{
  g_return_val_if_fail (COMPANION_IS_TUNNEL (self), 0);
  return self->messages_received;
}
