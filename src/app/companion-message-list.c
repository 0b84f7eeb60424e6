/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-message-list"

#include "config.h"

#include "companion-list-splice.h"
#include "companion-message-list.h"

/* Messages per read: as many as a tall window shows. Every row read
 * near the view gets a widget laid out at once, so a bigger page makes
 * opening a chat and scrolling back stutter. */
#define MESSAGE_PAGE_SIZE 30

struct _CompanionMessageList
{
  GObject                parent_instance;

  CompanionMirrorReader *reader;
  char                  *chat_id;
  gboolean               is_group;
  GCancellable          *cancellable;
  GPtrArray             *items;          /* CompanionMessageItem *, oldest first */
  GHashTable            *by_id;          /* id → CompanionMessageItem * (of items) */
  GHashTable            *names;          /* contact id → name */
  GHashTable            *names_asked;    /* contact ids looked up */
  GPtrArray             *newest_page;    /* of the refresh under way, newest first */
  GPtrArray             *outbox;         /* of the refresh under way */
  guint                  refresh_reads;  /* of the refresh, still under way */
  gboolean               refresh_failed;
  gboolean               refreshing;
  gboolean               refresh_again;
  gboolean               loading_older;
  gboolean               reached_start;
  gboolean               loaded;
};

static void companion_message_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CompanionMessageList, companion_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, companion_message_list_model_init))

enum {
  SIGNAL_LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GType
companion_message_list_get_item_type (GListModel *model)
{
  return COMPANION_TYPE_MESSAGE_ITEM;
}

static guint
companion_message_list_get_n_items (GListModel *model)
{
  return COMPANION_MESSAGE_LIST (model)->items->len;
}

static gpointer
companion_message_list_get_item (GListModel *model,
                                 guint       position)
{
  CompanionMessageList *self = COMPANION_MESSAGE_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
companion_message_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = companion_message_list_get_item_type;
  iface->get_n_items = companion_message_list_get_n_items;
  iface->get_item = companion_message_list_get_item;
}

/* Messages sort by time, then id, as the mirror lists them. */
static int
compare_keys (gint64      time_a,
              const char *id_a,
              gint64      time_b,
              const char *id_b)
{
  if (time_a != time_b)
    return time_a < time_b ? -1 : 1;
  return strcmp (id_a, id_b);
}

static int
local_day (gint64 time_ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_ms / 1000);

  if (when == NULL)
    return 0;
  return g_date_time_get_year (when) * 400 + g_date_time_get_day_of_year (when);
}

/* Day separators and sender names depend on the row before. */
static void
update_places (CompanionMessageList *self,
               guint                 from,
               guint                 to)
{
  int previous_day = 0;

  if (from > 0)
    from--;
  for (guint i = from; i < MIN (to, self->items->len); i++)
    {
      CompanionMessageItem *item = g_ptr_array_index (self->items, i);
      CompanionMessageItem *before = i > 0 ? g_ptr_array_index (self->items, i - 1) : NULL;
      int day = local_day (companion_message_item_get_time (item));
      gboolean starts_day;
      gboolean shows_sender;

      if (i == from && before != NULL)
        previous_day = local_day (companion_message_item_get_time (before));
      starts_day = before == NULL || day != previous_day;
      shows_sender = self->is_group && !companion_message_item_is_outgoing (item) &&
                     (starts_day || before == NULL ||
                      g_strcmp0 (companion_message_item_get_from (before),
                                 companion_message_item_get_from (item)) != 0);
      companion_message_item_set_place (item, starts_day, shows_sender);
      previous_day = day;
    }
}

static void
on_contact (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(CompanionMessageList) self = user_data;
  g_autoptr(JsonObject) contact = NULL;
  g_autoptr(GError) error = NULL;
  const char *id, *name;

  contact = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (contact == NULL)
    return;
  id = json_object_get_string_member (contact, "id");
  name = json_object_get_string_member (contact, "name");
  g_hash_table_insert (self->names, g_strdup (id), g_strdup (name));
  for (guint i = 0; i < self->items->len; i++)
    {
      CompanionMessageItem *item = g_ptr_array_index (self->items, i);
      if (g_strcmp0 (companion_message_item_get_from (item), id) == 0)
        companion_message_item_set_sender_name (item, name);
    }
}

typedef struct
{
  CompanionMessageList *list;
  CompanionMessageItem *item;
} ItemRead;

static void
item_read_free (ItemRead *read)
{
  g_object_unref (read->list);
  g_object_unref (read->item);
  g_free (read);
}

static ItemRead *
item_read_new (CompanionMessageList *self,
               CompanionMessageItem *item)
{
  ItemRead *read = g_new0 (ItemRead, 1);

  read->list = g_object_ref (self);
  read->item = g_object_ref (item);
  return read;
}

static void
on_media (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  ItemRead *read = user_data;
  g_autoptr(JsonObject) media = NULL;

  media = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, NULL);
  if (media != NULL)
    companion_message_item_set_media (read->item, media);
  item_read_free (read);
}

static void
on_quoted (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  ItemRead *read = user_data;
  g_autoptr(JsonObject) quoted = NULL;

  quoted = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, NULL);
  if (quoted != NULL)
    companion_message_item_set_quoted (read->item, quoted);
  item_read_free (read);
}

/* Reads what the row shows beside the record: sender, media, quote. */
static void
resolve_item (CompanionMessageList *self,
              CompanionMessageItem *item)
{
  const char *from = companion_message_item_get_from (item);
  const char *media = companion_message_item_get_media_hash (item);
  const char *reply_to = companion_message_item_get_reply_to (item);
  JsonObject *known_media = companion_message_item_get_media (item);
  JsonObject *known_quote = companion_message_item_get_quoted (item);

  if (from != NULL && self->is_group)
    {
      const char *name = g_hash_table_lookup (self->names, from);

      if (name != NULL)
        companion_message_item_set_sender_name (item, name);
      else if (g_hash_table_add (self->names_asked, g_strdup (from)))
        companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CONTACT, from,
                                              self->cancellable, on_contact, g_object_ref (self));
    }

  if (media == NULL)
    companion_message_item_set_media (item, NULL);
  else if (known_media == NULL || g_strcmp0 (json_object_get_string_member (known_media, "hash"), media) != 0)
    companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_MEDIA, media,
                                          self->cancellable, on_media, item_read_new (self, item));

  if (reply_to == NULL)
    companion_message_item_set_quoted (item, NULL);
  else
    {
      CompanionMessageItem *shown = g_hash_table_lookup (self->by_id, reply_to);

      if (shown != NULL)
        companion_message_item_set_quoted (item, companion_message_item_get_record (shown));
      else if (known_quote == NULL)
        companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_MESSAGE, reply_to,
                                              self->cancellable, on_quoted, item_read_new (self, item));
    }
}

/* The item for RECORD: the one shown, updated, or a new one. */
static CompanionMessageItem *
take_record (CompanionMessageList *self,
             JsonObject           *record)
{
  CompanionMessageItem *item = g_hash_table_lookup (self->by_id, json_object_get_string_member (record, "id"));

  if (item != NULL && !companion_message_item_is_pending (item))
    {
      companion_message_item_update (item, record);
      return g_object_ref (item);
    }
  return companion_message_item_new (record);
}

static void
index_items (CompanionMessageList *self)
{
  g_hash_table_remove_all (self->by_id);
  for (guint i = 0; i < self->items->len; i++)
    {
      CompanionMessageItem *item = g_ptr_array_index (self->items, i);
      g_hash_table_insert (self->by_id, (gpointer) companion_message_item_get_id (item), item);
    }
}

static void
finish_refresh (CompanionMessageList *self,
                GPtrArray            *outbox)
{
  g_autoptr(GPtrArray) page = g_steal_pointer (&self->newest_page);
  g_autoptr(GPtrArray) replacement = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) in_page = g_hash_table_new (g_str_hash, g_str_equal);
  guint start = 0;

  /* A short page is the whole chat; a full one replaces what it spans. */
  if (page->len == MESSAGE_PAGE_SIZE)
    {
      JsonObject *oldest = g_ptr_array_index (page, page->len - 1);
      gint64 oldest_time = json_object_get_int_member (oldest, "time");
      const char *oldest_id = json_object_get_string_member (oldest, "id");

      while (start < self->items->len)
        {
          CompanionMessageItem *item = g_ptr_array_index (self->items, start);

          if (companion_message_item_is_pending (item) ||
              compare_keys (companion_message_item_get_time (item), companion_message_item_get_id (item),
                            oldest_time, oldest_id) >= 0)
            break;
          start++;
        }
    }
  else
    self->reached_start = TRUE;

  for (guint i = page->len; i > 0; i--)
    {
      JsonObject *record = g_ptr_array_index (page, i - 1);

      g_ptr_array_add (replacement, take_record (self, record));
      g_hash_table_add (in_page, (gpointer) json_object_get_string_member (record, "id"));
    }

  for (guint i = 0; outbox != NULL && i < outbox->len; i++)
    {
      CompanionOutboxEntry *entry = g_ptr_array_index (outbox, i);
      JsonObject *fields;
      CompanionMessageItem *item;

      if (g_strcmp0 (json_object_get_string_member_with_default (entry->command, "event", ""), "message-out") != 0)
        continue;
      fields = json_object_get_object_member (entry->command, "fields");
      if (fields == NULL ||
          g_strcmp0 (json_object_get_string_member_with_default (fields, "chat", ""), self->chat_id) != 0 ||
          g_hash_table_contains (in_page, entry->client_id))
        continue;
      item = g_hash_table_lookup (self->by_id, entry->client_id);
      if (item != NULL && companion_message_item_is_pending (item))
        g_ptr_array_add (replacement, g_object_ref (item));
      else
        g_ptr_array_add (replacement, companion_message_item_new_pending (entry->client_id, self->chat_id,
                                                                          json_object_get_string_member_with_default (fields, "text", ""),
                                                                          entry->created));
    }

  companion_list_splice (G_LIST_MODEL (self), self->items, start, replacement);
  index_items (self);
  update_places (self, start, self->items->len);
  for (guint i = start; i < self->items->len; i++)
    resolve_item (self, g_ptr_array_index (self->items, i));

  self->loaded = TRUE;
  self->refreshing = FALSE;
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
  if (self->refresh_again)
    {
      self->refresh_again = FALSE;
      companion_message_list_refresh (self);
    }
}

/* Both reads of a refresh are in: the page and the outbox. */
static void
refresh_read_done (CompanionMessageList *self)
{
  g_autoptr(GPtrArray) outbox = NULL;

  if (--self->refresh_reads > 0)
    return;
  outbox = g_steal_pointer (&self->outbox);
  if (self->refresh_failed)
    {
      g_clear_pointer (&self->newest_page, g_ptr_array_unref);
      self->refresh_failed = FALSE;
      self->refreshing = FALSE;
      return;
    }
  finish_refresh (self, outbox);
}

static void
on_outbox (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(CompanionMessageList) self = user_data;
  g_autoptr(GError) error = NULL;

  self->outbox = companion_mirror_reader_outbox_list_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    g_warning ("Cannot read the outbox: %s", error->message);
  refresh_read_done (self);
}

static void
on_newest_page (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CompanionMessageList) self = user_data;
  g_autoptr(GError) error = NULL;

  self->newest_page = companion_mirror_reader_list_messages_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (self->newest_page == NULL)
    {
      g_warning ("Cannot read the messages of %s: %s", self->chat_id, error->message);
      self->refresh_failed = TRUE;
    }
  refresh_read_done (self);
}

static void
on_older_page (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CompanionMessageList) self = user_data;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GError) error = NULL;
  guint added = 0;

  page = companion_mirror_reader_list_messages_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (page == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_warning ("Cannot read older messages of %s: %s", self->chat_id, error->message);
          self->loading_older = FALSE;
        }
      return;
    }
  self->loading_older = FALSE;
  if (page->len < MESSAGE_PAGE_SIZE)
    self->reached_start = TRUE;

  /* Newest first: each one goes before the oldest shown. */
  for (guint i = 0; i < page->len; i++)
    {
      JsonObject *record = g_ptr_array_index (page, i);
      const char *id = json_object_get_string_member (record, "id");

      if (g_hash_table_contains (self->by_id, id))
        continue;
      g_ptr_array_insert (self->items, 0, companion_message_item_new (record));
      added++;
    }
  if (added == 0)
    return;
  for (guint i = 0; i < added; i++)
    {
      CompanionMessageItem *item = g_ptr_array_index (self->items, i);
      g_hash_table_insert (self->by_id, (gpointer) companion_message_item_get_id (item), item);
    }
  g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, added);
  update_places (self, 0, added + 1);
  for (guint i = 0; i < added; i++)
    resolve_item (self, g_ptr_array_index (self->items, i));
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
}

static void
companion_message_list_dispose (GObject *object)
{
  CompanionMessageList *self = COMPANION_MESSAGE_LIST (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->reader);

  G_OBJECT_CLASS (companion_message_list_parent_class)->dispose (object);
}

static void
companion_message_list_finalize (GObject *object)
{
  CompanionMessageList *self = COMPANION_MESSAGE_LIST (object);

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->names, g_hash_table_unref);
  g_clear_pointer (&self->names_asked, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->newest_page, g_ptr_array_unref);
  g_clear_pointer (&self->outbox, g_ptr_array_unref);
  g_clear_pointer (&self->chat_id, g_free);

  G_OBJECT_CLASS (companion_message_list_parent_class)->finalize (object);
}

static void
companion_message_list_class_init (CompanionMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_message_list_dispose;
  object_class->finalize = companion_message_list_finalize;

  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_message_list_init (CompanionMessageList *self)
{
  self->cancellable = g_cancellable_new ();
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->names_asked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

CompanionMessageList *
companion_message_list_new (CompanionMirrorReader *reader,
                            const char            *chat_id,
                            gboolean               is_group)
{
  CompanionMessageList *self;

  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);
  g_return_val_if_fail (chat_id != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_MESSAGE_LIST, NULL);
  self->reader = g_object_ref (reader);
  self->chat_id = g_strdup (chat_id);
  self->is_group = is_group;
  return self;
}

const char *
companion_message_list_get_chat_id (CompanionMessageList *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_LIST (self), NULL);
  return self->chat_id;
}

void
companion_message_list_refresh (CompanionMessageList *self)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_LIST (self));

  if (self->refreshing)
    {
      self->refresh_again = TRUE;
      return;
    }
  self->refreshing = TRUE;
  /* Both at once: each result waits for the frame being drawn. The one
   * worker reads them in this order, the outbox after the page. */
  self->refresh_reads = 2;
  companion_mirror_reader_list_messages_async (self->reader, self->chat_id, 0, NULL, MESSAGE_PAGE_SIZE,
                                               self->cancellable, on_newest_page, g_object_ref (self));
  companion_mirror_reader_outbox_list_async (self->reader, self->cancellable, on_outbox, g_object_ref (self));
}

void
companion_message_list_load_older (CompanionMessageList *self)
{
  CompanionMessageItem *oldest = NULL;

  g_return_if_fail (COMPANION_IS_MESSAGE_LIST (self));

  if (self->loading_older || self->reached_start || !self->loaded)
    return;
  if (self->items->len > 0)
    oldest = g_ptr_array_index (self->items, 0);
  if (oldest == NULL || companion_message_item_is_pending (oldest))
    return;
  self->loading_older = TRUE;
  companion_mirror_reader_list_messages_async (self->reader, self->chat_id,
                                               companion_message_item_get_time (oldest),
                                               companion_message_item_get_id (oldest),
                                               MESSAGE_PAGE_SIZE, self->cancellable,
                                               on_older_page, g_object_ref (self));
}

gboolean
companion_message_list_is_loaded (CompanionMessageList *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_LIST (self), FALSE);
  return self->loaded;
}

gboolean
companion_message_list_is_loading_older (CompanionMessageList *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_LIST (self), FALSE);
  return self->loading_older;
}

gboolean
companion_message_list_reached_start (CompanionMessageList *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_LIST (self), FALSE);
  return self->reached_start;
}

CompanionMessageItem *
companion_message_list_find (CompanionMessageList *self,
                             const char           *id)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_LIST (self), NULL);
  return g_hash_table_lookup (self->by_id, id);
}
