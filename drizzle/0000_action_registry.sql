CREATE TABLE "action_definitions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant" text DEFAULT 'default' NOT NULL,
	"title" text NOT NULL,
	"kind" text NOT NULL,
	"spec" jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "action_definitions_kind_check" CHECK ("action_definitions"."kind" in ('prompt', 'command')),
	CONSTRAINT "action_definitions_spec_object_check" CHECK (jsonb_typeof("action_definitions"."spec") = 'object')
);
--> statement-breakpoint
CREATE INDEX "action_definitions_tenant_id_idx" ON "action_definitions" USING btree ("tenant","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "action_definitions_updated_at_idx" ON "action_definitions" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "action_definitions_kind_idx" ON "action_definitions" USING btree ("tenant","kind");