/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define COMPANION_TYPE_COMMAND_READER (companion_command_reader_get_type ())

G_DECLARE_FINAL_TYPE (CompanionCommandReader, companion_command_reader,
                      COMPANION, COMMAND_READER, GObject)

/* Reads JSON-line commands ({"type": NAME, …}) from a stream, such as the
 * long-running programs' stdin, and emits "command" (NAME, JsonObject) for
 * each. A line that is not such an object is reported on stderr and skipped.
 * The end of the stream only stops reading: it does not mean quit. */
CompanionCommandReader *companion_command_reader_new  (GInputStream           *stream);
void                    companion_command_reader_stop (CompanionCommandReader *self);

G_END_DECLS
