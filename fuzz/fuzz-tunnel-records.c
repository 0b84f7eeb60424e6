/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The session tunnel after a valid handshake (src/core/companion-tunnel.c):
 * a desktop-side CompanionTunnel on a real SoupWebsocketConnection (over a
 * socket pair), set up as CompanionDesktopServer sets up a session (KK
 * responder, session prologue), and a phone side whose messages the
 * fuzzer writes. Both sides have fixed keys and ephemerals, so every input
 * reproduces. Records the tunnel hands up go through the parsers their
 * receivers use (session records, changes), chunks through the media
 * chunk check.
 *
 * Input: up to MAX_MESSAGES steps of flags byte, 2-byte length, bytes.
 * Flags bit 0: the bytes are sent as they are (a forged ciphertext); bit 1:
 * as a text frame; else they are the plaintext (kind byte first: 0x01 JSON
 * record, 0x02 chunk), encrypted with the phone's transport cipher. Then the
 * phone closes; the tunnel must report closed, with a tunnel error unless
 * the phone said "close" first. */
#define _GNU_SOURCE /* memmem */
#include "config.h"

#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "companion-media-transfer.h"
#include "companion-record.h"
#include "companion-session-protocol.h"
#include "companion-tunnel.h"
#include "fuzz-input.h"

#define MAX_MESSAGES 16
/* Main-loop turns allowed for one input: far more than a loopback exchange
 * of MAX_MESSAGES frames takes, so running out is a hang worth reporting. */
#define MAX_TURNS 100000

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct
{
  GBytes  *reply;         /* the desktop's handshake message */
  gboolean closed;        /* the tunnel reported closed */
  GError  *close_error;
  guint    records;
  guint    chunks;
} Run;

static CompanionNoiseHandshake *
new_handshake (CompanionNoiseRole role)
{
  /* The desktop is the responder, the phone the initiator. */
  const FuzzKeys *k = fuzz_keys ();
  gboolean desktop = role == COMPANION_NOISE_ROLE_RESPONDER;
  CompanionNoiseHandshake *hs = companion_noise_handshake_new (COMPANION_NOISE_PATTERN_KK, role, NULL);
  g_autoptr(GBytes) prologue = companion_session_prologue ();

  companion_noise_handshake_set_prologue (hs, g_bytes_get_data (prologue, NULL), g_bytes_get_size (prologue));
  companion_noise_handshake_set_local_static (hs, desktop ? k->resp_static : k->init_static);
  companion_noise_handshake_set_remote_static (hs, desktop ? k->init_public : k->resp_public);
  companion_noise_handshake_set_fixed_ephemeral (hs, desktop ? k->resp_ephemeral : k->init_ephemeral);
  return hs;
}

static SoupWebsocketConnection *
new_connection (int                          fd,
                SoupWebsocketConnectionType  type)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, NULL);
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(GUri) uri = g_uri_parse ("ws://127.0.0.1/companion/v1/session", G_URI_FLAGS_NONE, NULL);

  g_assert (socket != NULL);
  stream = g_socket_connection_factory_create_connection (socket);
  return soup_websocket_connection_new (G_IO_STREAM (stream), uri, type, NULL, NULL, NULL);
}

static void
on_phone_message (SoupWebsocketConnection *connection,
                  int                      type,
                  GBytes                  *message,
                  Run                     *run)
{
  if (run->reply == NULL)
    run->reply = g_bytes_ref (message);
  /* Later ones are pongs: the phone has nothing to say to them. */
}

static void
on_record (CompanionTunnel *tunnel,
           JsonObject      *record,
           Run             *run)
{
  const char *type = json_object_get_string_member (record, "type");
  g_autofree char *name = NULL;
  g_auto(GStrv) addresses = NULL;
  guint8 key[32];

  /* The tunnel hands up only records with a type, never its own. */
  g_assert (type != NULL && !g_str_equal (type, "close") && !g_str_equal (type, "ping") &&
            !g_str_equal (type, "pong"));
  run->records++;

  name = companion_session_record_parse_confirm (record, NULL);
  g_assert (name == NULL || (*name != '\0' && strlen (name) <= COMPANION_MAX_NAME_LENGTH));
  g_clear_pointer (&name, g_free);
  if (companion_session_record_parse_hello (record, &name, &addresses, NULL))
    g_assert (name != NULL && strlen (name) <= COMPANION_MAX_NAME_LENGTH &&
              g_strv_length (addresses) <= COMPANION_MAX_ADDRESSES);
  g_clear_pointer (&name, g_free);
  g_clear_pointer (&addresses, g_strfreev);
  if (companion_session_record_parse_welcome (record, key, &name, &addresses, NULL))
    g_assert (name != NULL && strlen (name) <= COMPANION_MAX_NAME_LENGTH &&
              g_strv_length (addresses) <= COMPANION_MAX_ADDRESSES);

  /* Sync's pages and batches carry changes. */
  for (const char *const *member = (const char *const[]) { "changes", "records", NULL }; *member; member++)
    {
      JsonNode *node = json_object_get_member (record, *member);
      JsonArray *array;

      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        continue;
      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);
          g_autoptr(CompanionChange) change = NULL;
          g_autoptr(GError) error = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (item))
            continue;
          change = companion_change_parse (json_node_get_object (item), &error);
          g_assert ((change == NULL) == (error != NULL));
        }
    }
}

static void
on_chunk (CompanionTunnel *tunnel,
          GBytes          *header,
          GBytes          *data,
          Run             *run)
{
  static const guint8 hash[32] = { 0 };
  CompanionMediaChunkExpectation expect = { hash, 1 << 20, 0, FALSE, 0 };
  gsize header_len = 0;
  const guint8 *h = g_bytes_get_data (header, &header_len);

  g_assert (header_len <= 255 && g_bytes_get_size (data) <= COMPANION_NOISE_MAX_PAYLOAD_LEN);
  run->chunks++;
  (void) companion_media_chunk_judge (&expect, h, header_len, g_bytes_get_size (data), NULL);
}

static void
on_closed (CompanionTunnel *tunnel,
           GError          *error,
           Run             *run)
{
  g_assert (!run->closed);
  run->closed = TRUE;
  if (error != NULL)
    run->close_error = g_error_copy (error);
}

static gboolean
turn_until (gboolean *flag)
{
  for (guint i = 0; i < MAX_TURNS && !*flag; i++)
    g_main_context_iteration (NULL, TRUE);
  return *flag;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  g_autoptr(SoupWebsocketConnection) desktop_conn = NULL, phone_conn = NULL;
  g_autoptr(CompanionNoiseHandshake) desktop_hs = NULL, phone_hs = NULL;
  g_autoptr(CompanionNoiseCipher) phone_send = NULL, phone_receive = NULL;
  g_autoptr(CompanionTunnel) tunnel = NULL;
  g_autoptr(GByteArray) first = g_byte_array_new ();
  g_autoptr(GByteArray) empty = g_byte_array_new ();
  gboolean said_close = FALSE, refused = FALSE;
  Run run = { 0 };
  int fds[2];

  fuzz_init ();
  g_assert (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  desktop_conn = new_connection (fds[0], SOUP_WEBSOCKET_CONNECTION_SERVER);
  phone_conn = new_connection (fds[1], SOUP_WEBSOCKET_CONNECTION_CLIENT);
  g_signal_connect (phone_conn, "message", G_CALLBACK (on_phone_message), &run);

  /* The handshake, as the desktop server does it: the first message read
   * before the tunnel exists, the tunnel then answering and established. */
  phone_hs = new_handshake (COMPANION_NOISE_ROLE_INITIATOR);
  desktop_hs = new_handshake (COMPANION_NOISE_ROLE_RESPONDER);
  g_assert (companion_noise_handshake_write_message (phone_hs, NULL, 0, first, NULL));
  g_assert (companion_noise_handshake_read_message (desktop_hs, first->data, first->len, empty, NULL));
  tunnel = companion_tunnel_new (desktop_conn, desktop_hs);
  companion_tunnel_set_timing (tunnel, 0, 0, 0);
  g_signal_connect (tunnel, "record", G_CALLBACK (on_record), &run);
  g_signal_connect (tunnel, "chunk", G_CALLBACK (on_chunk), &run);
  g_signal_connect (tunnel, "closed", G_CALLBACK (on_closed), &run);
  companion_tunnel_start (tunnel);
  g_assert (companion_tunnel_get_state (tunnel) == COMPANION_TUNNEL_STATE_ESTABLISHED);
  for (guint i = 0; i < MAX_TURNS && run.reply == NULL; i++)
    g_main_context_iteration (NULL, TRUE);
  g_assert (run.reply != NULL);
  g_assert (companion_noise_handshake_read_message (phone_hs, g_bytes_get_data (run.reply, NULL),
                                                    g_bytes_get_size (run.reply), empty, NULL));
  g_assert (companion_noise_handshake_split (phone_hs, &phone_send, &phone_receive, NULL));

  for (guint step = 0; step < MAX_MESSAGES && in.left > 0; step++)
    {
      g_autoptr(GByteArray) message = g_byte_array_new ();
      guint8 flags = fuzz_input_byte (&in);
      gsize len;
      const guint8 *bytes = fuzz_input_piece (&in, &len);

      if (flags & 3)
        g_byte_array_append (message, bytes, len);
      else
        g_assert (companion_noise_cipher_encrypt (phone_send, bytes, len, message, NULL));
      if (flags & 2)
        {
          /* Text frames must be UTF-8 (libsoup checks before sending). */
          g_autofree char *text = g_utf8_make_valid ((const char *) message->data ? (const char *) message->data : "",
                                                     (gssize) message->len);

          soup_websocket_connection_send_text (phone_conn, text);
        }
      else
        soup_websocket_connection_send_binary (phone_conn, message->data, message->len);
      if (flags & 3)
        refused = TRUE;
      /* Over-approximates "sent a close record": the check below only
       * needs to know that one may have been. */
      if (!(flags & 3) && len > 1 && bytes[0] == 0x01 && memmem (bytes, len, "\"close\"", 7) != NULL)
        said_close = TRUE;
    }
  soup_websocket_connection_close (phone_conn, COMPANION_CLOSE_NORMAL, NULL);

  g_assert (turn_until (&run.closed));
  g_assert (companion_tunnel_get_state (tunnel) == COMPANION_TUNNEL_STATE_CLOSED);
  /* A closing without a close record, or after anything forged, is an
   * error the user can read; only a phone that said "close" ends cleanly. */
  if (run.close_error == NULL)
    g_assert (said_close && !refused);
  else
    g_assert (run.close_error->domain == COMPANION_TUNNEL_ERROR && run.close_error->message != NULL);
  g_assert (companion_tunnel_get_messages_received (tunnel) <= MAX_MESSAGES);

  /* Both sockets fully closed before the next input. */
  for (guint i = 0; i < MAX_TURNS && (soup_websocket_connection_get_state (phone_conn) != SOUP_WEBSOCKET_STATE_CLOSED ||
                                     soup_websocket_connection_get_state (desktop_conn) != SOUP_WEBSOCKET_STATE_CLOSED); i++)
    g_main_context_iteration (NULL, TRUE);
  g_assert (soup_websocket_connection_get_state (phone_conn) == SOUP_WEBSOCKET_STATE_CLOSED);
  g_signal_handlers_disconnect_by_data (phone_conn, &run);
  g_signal_handlers_disconnect_by_data (tunnel, &run);
  g_clear_pointer (&run.reply, g_bytes_unref);
  g_clear_error (&run.close_error);
  return 0;
}
