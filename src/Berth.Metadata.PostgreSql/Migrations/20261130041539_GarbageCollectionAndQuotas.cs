using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Berth.Metadata.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class GarbageCollectionAndQuotas : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "gc_blob_review_queue",
                columns: table => new
                {
                    Digest = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ReviewAfter = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    QueuedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gc_blob_review_queue", x => x.Digest);
                    table.ForeignKey(
                        name: "FK_gc_blob_review_queue_blobs_Digest",
                        column: x => x.Digest,
                        principalTable: "blobs",
                        principalColumn: "Digest",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "gc_manifest_review_queue",
                columns: table => new
                {
                    ManifestId = table.Column<long>(type: "bigint", nullable: false),
                    ReviewAfter = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    QueuedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gc_manifest_review_queue", x => x.ManifestId);
                    table.ForeignKey(
                        name: "FK_gc_manifest_review_queue_manifests_ManifestId",
                        column: x => x.ManifestId,
                        principalTable: "manifests",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "namespace_registry_quotas",
                columns: table => new
                {
                    NamespaceId = table.Column<long>(type: "bigint", nullable: false),
                    QuotaBytes = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_namespace_registry_quotas", x => x.NamespaceId);
                    table.ForeignKey(
                        name: "FK_namespace_registry_quotas_namespaces_NamespaceId",
                        column: x => x.NamespaceId,
                        principalTable: "namespaces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_gc_blob_review_queue_ReviewAfter",
                table: "gc_blob_review_queue",
                column: "ReviewAfter");

            migrationBuilder.CreateIndex(
                name: "IX_gc_manifest_review_queue_ReviewAfter",
                table: "gc_manifest_review_queue",
                column: "ReviewAfter");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "gc_blob_review_queue");

            migrationBuilder.DropTable(
                name: "gc_manifest_review_queue");

            migrationBuilder.DropTable(
                name: "namespace_registry_quotas");
        }
    }
}
