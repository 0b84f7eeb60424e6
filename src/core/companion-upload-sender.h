/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-server.h"
#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_UPLOAD_SENDER (companion_upload_sender_get_type ())

G_DECLARE_FINAL_TYPE (CompanionUploadSender, companion_upload_sender, COMPANION, UPLOAD_SENDER, GObject)

/* The desktop's side of sending a file (docs/protocol.md, "Files from the
 * desktop"): serves the phone's upload-requests for files offered with a
 * command, from the mirror's media folder, a chunk at a time, one file at a
 * time in request order, never more than COMPANION_MEDIA_WINDOW chunks
 * unacknowledged (libsoup queues without bound), then upload-end. The phone
 * gets only what was offered, and only in the session it was offered in.
 * Signals: "progress" (client id, guint64 bytes the phone has, guint64
 * size), "failed" (client id, GError: the file cannot be sent; the phone
 * was told to drop it). */
CompanionUploadSender *companion_upload_sender_new            (CompanionDesktopServer *server,
                                                               CompanionMirrorStore   *store);
/* Lets the phone ask for the media file HASH (SIZE bytes) for the command
 * CLIENT_ID, until forget() or the end of the session. */
void                   companion_upload_sender_offer          (CompanionUploadSender  *self,
                                                               const char             *client_id,
                                                               const char             *hash,
                                                               guint64                 size);
/* Withdraws what CLIENT_ID offered and stops sending it; returns its hash,
 * or NULL when it offered nothing. */
char                  *companion_upload_sender_forget         (CompanionUploadSender  *self,
                                                               const char             *client_id);
/* Bytes of chunk data sent since the sender was made (for tests). */
guint64                companion_upload_sender_get_bytes_sent (CompanionUploadSender  *self);

G_END_DECLS
