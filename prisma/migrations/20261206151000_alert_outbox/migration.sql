-- AlterTable
ALTER TABLE "alerts" ADD COLUMN     "delivery_next_at" TIMESTAMPTZ(6);

-- CreateIndex
CREATE INDEX "alerts_delivery_next_at_idx" ON "alerts"("delivery_next_at");
