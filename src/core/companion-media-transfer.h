/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-server.h"
#include "companion-desktop-sync.h"
#include "companion-mirror-store.h"
#include "companion-tunnel.h"

G_BEGIN_DECLS

/* Media transfer (docs/protocol.md, "Media transfer"). */
#define COMPANION_MEDIA_CHUNK_SIZE            COMPANION_TUNNEL_CHUNK_MAX   /* 60 KiB */
/* A chunk's header: the media's BLAKE2b-256 (32 bytes), then the offset of
 * its data in the file (8 bytes, big-endian). */
#define COMPANION_MEDIA_CHUNK_HEADER_LEN      40
/* The phone keeps at most this many chunks unacknowledged... */
#define COMPANION_MEDIA_WINDOW                16
/* ...and the desktop acknowledges every this many, and at the end. */
#define COMPANION_MEDIA_ACK_EVERY             4
#define COMPANION_MEDIA_AUTO_DOWNLOAD_DEFAULT (G_GUINT64_CONSTANT (16) * 1024 * 1024)
/* Media requests the phone holds at once (sending or waiting); more are
 * answered "busy". The desktop asks for one at a time. */
#define COMPANION_MEDIA_MAX_REQUESTS          256
#define COMPANION_MEDIA_HASH_LEN              32

/* Chunk helpers for both directions (media from the phone, files from the
 * desktop). HASH as 64 lowercase hex digits into RAW; FALSE for anything
 * else. */
gboolean                companion_media_hash_to_raw           (const char             *hash,
                                                               guint8                 *raw);
/* HEADER (COMPANION_MEDIA_CHUNK_HEADER_LEN bytes) for the data at OFFSET of RAW. */
void                    companion_media_chunk_header          (guint8                 *header,
                                                               const guint8           *raw,
                                                               guint64                 offset);
/* The hash and offset of a chunk's HEADER; FALSE when it is not 40 bytes. */
gboolean                companion_media_chunk_parse           (GBytes                 *header,
                                                               guint8                 *raw_out,
                                                               guint64                *offset_out);
/* Reads exactly LEN bytes at OFFSET of FD into BUFFER. */
gboolean                companion_media_read_chunk            (int                     fd,
                                                               guint8                 *buffer,
                                                               gsize                   len,
                                                               guint64                 offset,
                                                               GError                **error);
/* Writes all of DATA to FD (at its position); PATH names it in the error. */
gboolean                companion_media_write_chunk           (int                     fd,
                                                               const guint8           *data,
                                                               gsize                   len,
                                                               const char             *path,
                                                               GError                **error);

#define COMPANION_MEDIA_TRANSFER_ERROR (companion_media_transfer_error_quark ())

typedef enum
{
  /* The phone has no file for the hash (or the mirror no record of it). */
  COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
  /* The bytes received do not hash to the media's hash, or their count is not its size. */
  COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH,
  /* The phone broke the protocol (a chunk out of place, a malformed record). */
  COMPANION_MEDIA_TRANSFER_ERROR_PROTOCOL,
  /* The partial file could not be written. */
  COMPANION_MEDIA_TRANSFER_ERROR_IO,
} CompanionMediaTransferError;

/* What the desktop does with one chunk of the media it is fetching. */
typedef enum
{
  /* Not a chunk of this request: a malformed header, another media, or
   * what was still on the way from an earlier, cancelled request. */
  COMPANION_MEDIA_CHUNK_IGNORE,
  /* The next bytes, in place: write them. */
  COMPANION_MEDIA_CHUNK_ACCEPT,
  /* At another offset than the bytes received so far: a protocol error. */
  COMPANION_MEDIA_CHUNK_OUT_OF_ORDER,
  /* More bytes than the media's size leaves: a mismatch. */
  COMPANION_MEDIA_CHUNK_TOO_LONG,
} CompanionMediaChunkVerdict;

/* The chunk under way: the media's raw BLAKE2b-256, its size, the offset
 * asked for, whether anything of this request came yet, and the bytes
 * received so far. */
typedef struct
{
  const guint8 *hash;
  guint64       size;
  guint64       requested_at;
  gboolean      answered;
  guint64       received;
} CompanionMediaChunkExpectation;

/* Judges a chunk (HEADER of HEADER_LEN bytes, then DATA_LEN bytes) against
 * EXPECT, from its bytes alone; OFFSET_OUT gets the header's offset when the
 * header is well formed. */
CompanionMediaChunkVerdict companion_media_chunk_judge (const CompanionMediaChunkExpectation *expect,
                                                        const guint8                         *header,
                                                        gsize                                 header_len,
                                                        gsize                                 data_len,
                                                        guint64                              *offset_out);

#define COMPANION_TYPE_MEDIA_TRANSFER (companion_media_transfer_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMediaTransfer, companion_media_transfer,
                      COMPANION, MEDIA_TRANSFER, GObject)

GQuark                  companion_media_transfer_error_quark (void);

/* The desktop's side of media transfer: a queue of wanted media, fetched one
 * at a time from the connected phone into STATE_DIR/media/.partial-HASH,
 * progress recorded in the mirror (resumed by offset after a disconnect or a
 * restart). Bytes are hashed as they are written (after a restart, what an
 * earlier run received is hashed again once, on a worker thread); at the end
 * the hash is checked and the partial file renamed into the media store
 * (companion_mirror_store_keep_media_file(), on a worker thread).
 * When SYNC is given, every "synced" queues what is wanted automatically:
 * partial media, and absent media up to the auto-download limit (the
 * "auto-download-limit" property, bytes; 0 = none). Signals: "progress"
 * (hash, guint64 received, guint64 size), "complete" (hash), "failed" (hash,
 * GError: nothing of it is kept when the bytes did not verify). */
CompanionMediaTransfer *companion_media_transfer_new          (CompanionDesktopServer *server,
                                                               CompanionMirrorStore   *store,
                                                               CompanionDesktopSync   *sync);
/* Queues HASH (first in line). FALSE with ERROR when the mirror has no such
 * media; a complete one emits "complete" at once. */
gboolean                companion_media_transfer_request      (CompanionMediaTransfer *self,
                                                               const char             *hash,
                                                               GError                **error);
void                    companion_media_transfer_set_auto_download_limit (CompanionMediaTransfer *self,
                                                                          guint64                 limit);
guint64                 companion_media_transfer_get_auto_download_limit (CompanionMediaTransfer *self);
/* Media queued or under way. */
guint                   companion_media_transfer_get_pending  (CompanionMediaTransfer *self);

G_END_DECLS
