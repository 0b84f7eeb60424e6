/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Starts {"event": EVENT, …}: add members, then hand it to _print. */
JsonBuilder *companion_json_line_begin (const char  *event);
/* Ends the object, prints it as one line on stdout and flushes. */
void         companion_json_line_print (JsonBuilder *builder);

G_END_DECLS
