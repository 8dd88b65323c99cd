using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Berth.Metadata.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class CiJobTokens : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ci_runners",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProjectId = table.Column<long>(type: "INTEGER", nullable: true),
                    Description = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    TokenHash = table.Column<string>(type: "TEXT", nullable: false),
                    Active = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatorId = table.Column<long>(type: "INTEGER", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ContactedAt = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ci_runners", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ci_runners_projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "ci_trusted_identities",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProjectId = table.Column<long>(type: "INTEGER", nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    Issuer = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: false),
                    Audience = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: false),
                    JwksUrl = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: true),
                    JwksJson = table.Column<string>(type: "TEXT", nullable: true),
                    RulesJson = table.Column<string>(type: "TEXT", nullable: false),
                    CreatorId = table.Column<long>(type: "INTEGER", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ci_trusted_identities", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ci_trusted_identities_projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "job_token_allowlist",
                columns: table => new
                {
                    ProjectId = table.Column<long>(type: "INTEGER", nullable: false),
                    SourceProjectId = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_job_token_allowlist", x => new { x.ProjectId, x.SourceProjectId });
                    table.ForeignKey(
                        name: "FK_job_token_allowlist_projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_job_token_allowlist_projects_SourceProjectId",
                        column: x => x.SourceProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "ci_jobs",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProjectId = table.Column<long>(type: "INTEGER", nullable: false),
                    UserId = table.Column<long>(type: "INTEGER", nullable: true),
                    CapUserId = table.Column<long>(type: "INTEGER", nullable: true),
                    RunnerId = table.Column<long>(type: "INTEGER", nullable: true),
                    TrustId = table.Column<long>(type: "INTEGER", nullable: true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    Subject = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: true),
                    TokenHash = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    FinishedAt = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ci_jobs", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ci_jobs_ci_runners_RunnerId",
                        column: x => x.RunnerId,
                        principalTable: "ci_runners",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.SetNull);
                    table.ForeignKey(
                        name: "FK_ci_jobs_ci_trusted_identities_TrustId",
                        column: x => x.TrustId,
                        principalTable: "ci_trusted_identities",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.SetNull);
                    table.ForeignKey(
                        name: "FK_ci_jobs_projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_ci_jobs_users_CapUserId",
                        column: x => x.CapUserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_ci_jobs_users_UserId",
                        column: x => x.UserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_CapUserId",
                table: "ci_jobs",
                column: "CapUserId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_ExpiresAt",
                table: "ci_jobs",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_ProjectId",
                table: "ci_jobs",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_RunnerId",
                table: "ci_jobs",
                column: "RunnerId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_TokenHash",
                table: "ci_jobs",
                column: "TokenHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_TrustId",
                table: "ci_jobs",
                column: "TrustId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_jobs_UserId",
                table: "ci_jobs",
                column: "UserId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_runners_ProjectId",
                table: "ci_runners",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_ci_runners_TokenHash",
                table: "ci_runners",
                column: "TokenHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ci_trusted_identities_ProjectId",
                table: "ci_trusted_identities",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_job_token_allowlist_SourceProjectId",
                table: "job_token_allowlist",
                column: "SourceProjectId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ci_jobs");

            migrationBuilder.DropTable(
                name: "job_token_allowlist");

            migrationBuilder.DropTable(
                name: "ci_runners");

            migrationBuilder.DropTable(
                name: "ci_trusted_identities");
        }
    }
}
