CREATE TABLE "action_configs" (
	"tenant" text NOT NULL,
	"version" integer NOT NULL,
	"source" text NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "action_configs_tenant_version_pk" PRIMARY KEY("tenant","version")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"tenant" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"run_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_tenant_key_pk" PRIMARY KEY("tenant","key")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"run_id" text,
	"topic" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"claimed_by" text,
	"claimed_until" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "run_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"tenant" text NOT NULL,
	"source" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"data" jsonb,
	"envelope" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"service_id" text NOT NULL,
	"action_id" text NOT NULL,
	"definition_id" bigint,
	"definition_version" integer,
	"state" text NOT NULL,
	"reason" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"input" jsonb,
	"output" jsonb,
	"error" jsonb,
	"command_id" text NOT NULL,
	"trace_id" text NOT NULL,
	"idempotency_key" text,
	"origin" text NOT NULL,
	"caller_command_id" text,
	"caller_target" text,
	"heartbeat_timeout_s" integer NOT NULL,
	"status_ttl_s" integer NOT NULL,
	"deadline" timestamp with time zone,
	"last_event_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_seq" integer DEFAULT 1 NOT NULL,
	"output_bytes" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "services" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text DEFAULT 'default' NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"ttl" integer NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"offline_since" timestamp with time zone,
	"shape" text NOT NULL,
	"snapshot" jsonb NOT NULL,
	"actions" jsonb NOT NULL,
	"runners" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("id") WHERE "outbox"."sent_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "run_events_run_seq_idx" ON "run_events" USING btree ("run_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "run_events_source_id_idx" ON "run_events" USING btree ("source","event_id");--> statement-breakpoint
CREATE INDEX "runs_tenant_id_idx" ON "runs" USING btree ("tenant","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_tenant_service_idx" ON "runs" USING btree ("tenant","service_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "runs_command_id_idx" ON "runs" USING btree ("command_id");--> statement-breakpoint
CREATE INDEX "services_tenant_status_idx" ON "services" USING btree ("tenant","status");