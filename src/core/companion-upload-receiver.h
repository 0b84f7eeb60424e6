/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-phone-client.h"
#include "companion-phone-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_UPLOAD_RECEIVER (companion_upload_receiver_get_type ())

G_DECLARE_FINAL_TYPE (CompanionUploadReceiver, companion_upload_receiver,
                      COMPANION, UPLOAD_RECEIVER, GObject)

/* The phone's side of a file sent from the desktop (docs/protocol.md,
 * "Files from the desktop"): asks for the file from what its partial file
 * (STATE_DIR/media/.upload-HASH, kept across disconnects and restarts)
 * already holds, writes each chunk at once, acknowledges every
 * COMPANION_MEDIA_ACK_EVERY chunks, and at upload-end keeps the file in the
 * store only when its bytes hash to HASH. Signals: "complete" (hash: the
 * file is in the store's media folder), "failed" (hash, GError: nothing of
 * it was kept). */
CompanionUploadReceiver *companion_upload_receiver_new   (CompanionPhoneClient    *client,
                                                          CompanionPhoneStore     *store);
/* Asks the desktop for HASH (SIZE bytes) for the command CLIENT_ID. A file
 * already being received goes on as it is. FALSE with ERROR when the
 * partial file cannot be opened. */
gboolean                 companion_upload_receiver_fetch (CompanionUploadReceiver *self,
                                                          const char              *client_id,
                                                          const char              *hash,
                                                          guint64                  size,
                                                          GError                 **error);

G_END_DECLS
