using Berth.Api.Tests.Infrastructure;
using Berth.Auth.Accounts;
using Microsoft.Extensions.DependencyInjection;
using OtpNet;

namespace Berth.Api.Tests;

public sealed class AccountServiceTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("alice", true)]
    [InlineData("Alice.Smith_2", true)]
    [InlineData("_under", true)]
    [InlineData("a-b.c", true)]
    [InlineData("", false)]
    [InlineData(".dot", false)]
    [InlineData("-dash", false)]
    [InlineData("sp ace", false)]
    [InlineData("slash/y", false)]
    [InlineData("repo.git", false)]
    [InlineData("feed.ATOM", false)]
    [InlineData("ünïcode", false)]
    public void Path_grammar(string value, bool valid)
    {
        var ex = Record.Exception(() => PathRules.CheckSegment(value, "path", topLevel: false));
        Assert.Equal(valid, ex is null);
        if (ex is not null) Assert.Equal(AccountErrorKind.Invalid, Assert.IsType<AccountException>(ex).Kind);
    }

    [Fact]
    public void Reserved_names_only_at_the_top()
    {
        Assert.Throws<AccountException>(() => PathRules.CheckSegment("v2", "path", topLevel: true));
        PathRules.CheckSegment("v2", "path", topLevel: false);
    }

    [Fact]
    public async Task Totp_and_recovery_codes()
    {
        var id = await factory.CreateUserAsync(ApiFactory.Unique("otp"));
        await factory.WithServicesAsync<object?>(async sp =>
        {
            var accounts = sp.GetRequiredService<AccountService>();
            var ct = CancellationToken.None;
            Assert.False(await accounts.VerifyTwoFactorAsync(id, "123456", ct));
            var setup = await accounts.EnableTwoFactorAsync(id, ct);
            Assert.Equal(32, setup.Secret.Length);
            Assert.StartsWith("otpauth://totp/Berth:", setup.OtpAuthUri);
            Assert.Contains("secret=" + setup.Secret, setup.OtpAuthUri);
            Assert.Equal(10, setup.RecoveryCodes.Count);
            Assert.Equal(10, setup.RecoveryCodes.Distinct().Count());

            var code = new Totp(Base32Encoding.ToBytes(setup.Secret)).ComputeTotp(DateTime.UtcNow);
            Assert.True(await accounts.VerifyTwoFactorAsync(id, code, ct));
            var wrong = ((int.Parse(code) + 500_000) % 1_000_000).ToString("000000");
            Assert.False(await accounts.VerifyTwoFactorAsync(id, wrong, ct));

            Assert.True(await accounts.VerifyTwoFactorAsync(id, setup.RecoveryCodes[0], ct));
            Assert.False(await accounts.VerifyTwoFactorAsync(id, setup.RecoveryCodes[0], ct));
            Assert.Equal(9, await accounts.CountRecoveryCodesAsync(id, ct));

            // Re-enabling re-keys and replaces the codes.
            var again = await accounts.EnableTwoFactorAsync(id, ct);
            Assert.NotEqual(setup.Secret, again.Secret);
            Assert.False(await accounts.VerifyTwoFactorAsync(id, setup.RecoveryCodes[1], ct));
            Assert.Equal(10, await accounts.CountRecoveryCodesAsync(id, ct));

            await accounts.DisableTwoFactorAsync(id, ct);
            var user = await accounts.GetUserAsync(id, ct);
            Assert.False(user.TwoFactorEnabled);
            Assert.Null(user.TotpSecret);
            Assert.Equal(0, await accounts.CountRecoveryCodesAsync(id, ct));
            Assert.False(await accounts.VerifyTwoFactorAsync(id, again.RecoveryCodes[0], ct));
            return null;
        });
    }

    [Fact]
    public async Task Passwords_block_and_admin()
    {
        var name = ApiFactory.Unique("pw");
        var id = await factory.CreateUserAsync(name, "first-password");
        await factory.WithServicesAsync<object?>(async sp =>
        {
            var accounts = sp.GetRequiredService<AccountService>();
            var validator = sp.GetRequiredService<Berth.Auth.CredentialValidator>();
            var ct = CancellationToken.None;
            Assert.True((await validator.ValidateAsync(name, "first-password", null, ct)).Succeeded);
            await accounts.SetPasswordAsync(id, "second-password", ct);
            Assert.False((await validator.ValidateAsync(name, "first-password", null, ct)).Succeeded);
            Assert.True((await validator.ValidateAsync(name.ToUpperInvariant(), "second-password", null, ct)).Succeeded);
            var tooShort = await Assert.ThrowsAsync<AccountException>(() => accounts.SetPasswordAsync(id, "short", ct));
            Assert.Equal("password", tooShort.Field);
            await accounts.SetBlockedAsync(id, true, ct);
            Assert.Equal(Berth.Auth.CredentialFailure.Blocked, (await validator.ValidateAsync(name, "second-password", null, ct)).Failure);
            await accounts.SetBlockedAsync(id, false, ct);
            await accounts.SetAdminAsync(id, true, ct);
            Assert.True((await validator.ValidateAsync(name, "second-password", null, ct)).Principal!.IsAdmin);
            await Assert.ThrowsAsync<AccountException>(() => accounts.SetAdminAsync(999999, true, ct));
            return null;
        });
    }
}
